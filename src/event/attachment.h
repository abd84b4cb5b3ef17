#pragma once

// Attachments (t.Attach): the files a test keeps with an attempt (a screenshot, a HAR, a
// response body). One owner for what every part checks: the bounds, which names and media
// types are valid, and which media types a browser may show inline. The worker checks them
// before it sends an attachment; the supervisor, `run`'s files and serve's API check them
// again on what arrives, since a worker's pipe and a URL are outside input.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace handoff {

// The largest attachment: a larger one is not kept, and the test fails saying so.
inline constexpr std::size_t kMaxAttachmentBytes = 10u << 20;
// The most bytes one attempt of a top-level test (with its subtests) may attach.
inline constexpr std::size_t kMaxAttemptAttachmentBytes = 50u << 20;
// The most attachments one attempt of a top-level test (with its subtests) may keep.
inline constexpr int kMaxAttemptAttachments = 100;
// The longest name and media type.
inline constexpr std::size_t kMaxAttachmentName = 128;
inline constexpr std::size_t kMaxMediaType = 127;

// Returns an empty string if `name` can name an attachment (a file name: 1 to
// kMaxAttachmentName bytes, no '/', '\\', control byte, not "." or ".."), else why not.
std::string CheckAttachmentName(std::string_view name);

// Returns an empty string if `media_type` is a media type ("type/subtype", RFC 6838's
// characters, no parameters, at most kMaxMediaType bytes), else why not.
std::string CheckMediaType(std::string_view media_type);

// Returns the media type of a file named `name` by its extension (image/png for ".png",
// text/plain for ".txt" and ".log", application/json, ...), or application/octet-stream.
std::string GuessMediaType(std::string_view name);

// Returns the media type lower-cased (media types are case-insensitive).
std::string NormalizeMediaType(std::string_view media_type);

// Returns true if a browser may show an attachment of `media_type` inline on the UI's
// origin: images other than SVG, plain text, JSON and PDF. Everything else (HTML, SVG,
// JavaScript, XML, unknown types) could run script there and is served as a download.
bool IsInlineSafe(std::string_view media_type);

// Returns true if the attachment is text a UI can preview (text/plain, application/json).
bool IsTextPreview(std::string_view media_type);

// Returns `text` with every byte outside [A-Za-z0-9._-] (and a leading '.') written as
// %XX: a name or test name made one safe path component, distinct names kept distinct.
std::string PathComponent(std::string_view text);

}  // namespace handoff
