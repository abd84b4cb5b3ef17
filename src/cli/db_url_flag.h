#pragma once

// A database URL given to a command (serve's --db, db migrate's --to), which also reads
// HANDOFF_DB: a password in it must not come from the command line, where ps and /proc show
// it to every user of the machine.

#include <cstdlib>
#include <string>

#include "store/open_store.h"

namespace handoff {

// Returns the error for `flag` when `url` holds a password that came from argv (the flag
// wins over HANDOFF_DB, so a value other than the variable's came from argv); "" otherwise.
inline std::string PasswordOnCommandLine(const std::string& flag, const std::string& url) {
  if (!store::StoreUrlHasPassword(url)) return {};
  const char* from_env = std::getenv("HANDOFF_DB");
  if (from_env != nullptr && url == from_env) return {};
  return flag +
         ": the URL holds a password, which the command line would show to every user of "
         "this machine (ps, /proc); give the URL in HANDOFF_DB instead, or the password in a "
         "password file (~/.pgpass or PGPASSFILE) or PGPASSWORD";
}

}  // namespace handoff
