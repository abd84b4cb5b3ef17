// Database URLs (src/store/open_store.h, src/store/pg_url.h), as --db, HANDOFF_DB and
// `db migrate --to` give them: whatever surrounds a password, the URL the logs, the
// start-up line and the errors show never holds it, and a shown URL holds no password.

#include <string>

#include "fuzz/fuzz_target.h"
#include "store/open_store.h"

HANDOFF_FUZZ_TARGET(store_url) {
  using namespace handoff;
  const std::string input(fuzz::AsText(data, size));
  // Any text: no crash, and what is shown has nothing more to hide.
  const std::string shown = store::ShownStoreUrl(input);
  FUZZ_CHECK(!store::StoreUrlHasPassword(shown));
  FUZZ_CHECK(store::ShownStoreUrl(shown) == shown);

  // A password planted in the userinfo, and in the query, around the input.
  constexpr std::string_view kSecret = "Zq9-planted-pw";
  if (input.find(kSecret.substr(0, 4)) != std::string::npos) return 0;
  const std::size_t split = input.find_first_of("/?#@");
  const std::string user = input.substr(0, split == std::string::npos ? input.size() : split);
  const std::string rest = split == std::string::npos ? "" : input.substr(split);
  for (const std::string& url :
       {"postgres://" + user + ":" + std::string(kSecret) + "@h" + rest,
        "postgresql://h/db?password=" + std::string(kSecret),
        "postgres://h/db?sslmode=require&password=" + std::string(kSecret) + "&x=" + user}) {
    FUZZ_CHECK(store::ShownStoreUrl(url).find(kSecret) == std::string::npos);
    FUZZ_CHECK(store::StoreUrlHasPassword(url));
  }
  return 0;
}
