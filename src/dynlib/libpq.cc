// The functions of libpq that handoff calls (the PostgreSQL store), as forwarders: libpq is
// opened when the first of them runs (dynlib/lazy_library.h). A store that opens a
// postgres:// URL calls Libpq().Load() first, for a clean error where libpq5 is missing.

#include <libpq-fe.h>

#include "dynlib/forward.h"

HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQclear, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQcmdTuples, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQconnectdb, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQconnectdbParams, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQenterPipelineMode, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQerrorMessage, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQexec, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQexecParams, 8)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQexecPrepared, 7)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQexitPipelineMode, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQfformat, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQfinish, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQftype, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQgetResult, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQgetisnull, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQgetlength, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQgetvalue, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQnfields, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQntuples, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQpipelineStatus, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQpipelineSync, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQprepare, 5)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQreset, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQresultErrorMessage, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQresultStatus, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQsendQueryParams, 8)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQsendQueryPrepared, 7)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQsetNoticeProcessor, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQstatus, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libpq(), PQtransactionStatus, 1)
