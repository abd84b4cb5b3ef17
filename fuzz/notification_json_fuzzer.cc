// Stored notifications (src/notify/notification.h): the outbox's payloads are read back with
// FromJson when a delivery is sent. Any input is either refused as kCorrupt or read into a
// notification that writes back to a document reading back to the same notification.

#include <string>

#include "fuzz/fuzz_target.h"
#include "notify/notification.h"

HANDOFF_FUZZ_TARGET(notification_json) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  Result<notify::Notification> read = notify::FromJson(input);
  if (!read.ok()) {
    FUZZ_CHECK(read.error().code == ErrorCode::kCorrupt);
    return 0;
  }
  const std::string written = notify::ToJson(*read);
  Result<notify::Notification> again = notify::FromJson(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(notify::ToJson(*again) == written);
  return 0;
}
