#pragma once
// Internal: JSON checks used by the cache (metadata must be a JSON object).

#include <string_view>

namespace engram::detail {

// True when `text` parses as one JSON document whose root is an object.
bool is_json_object(std::string_view text) noexcept;

}  // namespace engram::detail
