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

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0x0f];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace engram::detail
