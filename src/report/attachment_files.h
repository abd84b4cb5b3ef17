#pragma once

// `run`'s attachments (t.Attach) as files: each is written under the run's attachments
// directory (--attachments-dir) as it arrives, at a path that reporters compute the same
// way (JUnit's [[ATTACHMENT|path]] lines, the text and JSON reports).

#include <cstdio>
#include <string>
#include <string_view>

#include "event/event.h"

namespace handoff {

// Returns where the attachment `name` of `test`'s attempt `attempt` in `suite` is written
// under `dir`: dir/<suite>/<test>/attempt-<attempt>/<name>, each part one path component
// (event/attachment.h's PathComponent: "Checkout/Card" is "Checkout%2FCard").
std::string AttachmentPath(std::string_view dir, std::string_view suite, std::string_view test,
                           int attempt, std::string_view name);

// Returns the line reports show for an attachment: "attachment NAME (TYPE, N bytes): PATH",
// without ": PATH" when `path` is empty.
std::string AttachmentNote(std::string_view name, std::string_view media_type, std::size_t size,
                           std::string_view path);

// Writes every kAttachment event's bytes to its AttachmentPath under `dir`, creating the
// directories. A file that cannot be written is reported on `warnings` once per file and
// the run goes on: a report's attachments never fail a test.
class AttachmentFiles : public EmptyEventSink {
 public:
  AttachmentFiles(std::string dir, std::FILE* warnings)
      : dir_(std::move(dir)), warnings_(warnings) {}

  // Returns how many attachments were written.
  int written() const { return written_; }

  // EventSink
  void OnEvent(const Event& event) override;

 private:
  std::string dir_;
  std::FILE* warnings_;
  int written_ = 0;
};

}  // namespace handoff
