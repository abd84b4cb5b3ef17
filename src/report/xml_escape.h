#pragma once

// XML 1.0 escaping shared by the XML reporters (JUnit, GoogleTest's XML).

#include <string>
#include <string_view>

namespace handoff {

// Appends `s` escaped for XML 1.0 character data or, with `attribute`, for a double-quoted
// attribute value (where tab, newline and carriage return are written as character
// references so that attribute-value normalization keeps them). Characters XML 1.0 forbids
// and invalid UTF-8 become U+FFFD, so the document is always well-formed.
void AppendXmlEscaped(std::string& out, std::string_view s, bool attribute);

// Appends ` name="value"`, the value escaped.
void AppendXmlAttribute(std::string& out, std::string_view name, std::string_view value);
// Appends ` name="value"` for a number.
void AppendXmlAttribute(std::string& out, std::string_view name, int value);

}  // namespace handoff
