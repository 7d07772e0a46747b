#include "engram/detail/json.hpp"

#include <simdjson.h>

namespace engram::detail {

bool is_json_object(std::string_view text) noexcept {
  // The DOM parser validates the whole document (the on-demand API would stop early).
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(text)).get(root) != simdjson::SUCCESS) return false;
  return root.type() == simdjson::dom::element_type::OBJECT;
}

}  // namespace engram::detail
