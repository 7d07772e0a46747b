#pragma once
// Internal: JSON checks used by the cache (metadata must be a JSON object), and the one JSON
// string writer the embedders and the tool share.

#include <string>
#include <string_view>

namespace engram::detail {

// True when `text` parses as one JSON document whose root is an object.
bool is_json_object(std::string_view text) noexcept;

// Appends `text` to `out` as a quoted JSON string: '"' and '\\' escaped, \n \r \t by name,
// other control characters and DEL as \u00XX. Bytes >= 0x80 are copied (the caller passes
// UTF-8).
void append_json_string(std::string& out, std::string_view text);

}  // namespace engram::detail
