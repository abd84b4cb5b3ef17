#pragma once

// Who holds a lease on a PostgreSQL store (the store-wide one of pg_ownership.h, and a
// replica's lease on a run): "host|pid|pid space|random tag", and whether such a holder is
// a process of this machine that is gone, so that its lease need not be waited out.

#include <string>
#include <string_view>

namespace handoff::store {

// This machine's host name ("unknown" if it has none).
std::string HostName();

// Returns a new holder for this process on `host`.
std::string MakeHolder(const std::string& host);

// Returns true if `holder` was a process of this machine's pid space (its kernel's boot and
// pid namespace) that no longer runs: its lease, although not expired yet, holds nothing (a
// server killed with SIGKILL and restarted at once on the same machine need not wait out the
// ttl). False whenever in doubt.
bool HolderIsGone(std::string_view holder);

}  // namespace handoff::store
