#pragma once

// PostgreSQL URLs as the store takes them (`--db postgres://user:secret@host/db?sslmode=...`)
// and as it shows them: a password never reaches a message or a log line.

#include <string>
#include <string_view>

namespace handoff::store {

// Returns true for the URL schemes libpq accepts as connection URIs ("postgres://" and
// "postgresql://").
bool IsPostgresUrl(std::string_view url);

// Returns `url` without its password: the one after "user:" in the authority (each host of
// a multi-host URI) and any `password=` query parameter are left out, so
// "postgres://u:secret@h/db?sslmode=require&password=x" reads
// "postgres://u@h/db?sslmode=require". Anything else is kept as written.
std::string PostgresUrlWithoutPassword(std::string_view url);

}  // namespace handoff::store
