#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "engram/errors.hpp"

namespace engram::detail {
namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit
constexpr const char* kRemedy =
    ". Remediation: the weights file is damaged or not a safetensors file; delete the model directory and "
    "re-fetch it (scripts/fetch-model.sh) or re-export the model with the safetensors library.";

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw InvalidArgument("model weights " + file + ": " + what + kRemedy);
}

std::string shape_text(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::uint64_t dtype_size(std::string_view dtype) {
  static constexpr std::pair<std::string_view, std::uint64_t> kSizes[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},  {"I32", 4},     {"I16", 2},     {"I8", 1},
      {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
  };
  for (const auto& [name, size] : kSizes)
    if (name == dtype) return size;
  return 0;
}

struct Mapping {
  void* addr = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, size);
  }
};

}  // namespace

float f16_to_f32(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x3FFu;
  std::uint32_t bits = 0;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant != 0) {  // subnormal: normalize
    exp = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
  } else {
    bits = sign;
  }
  float f = 0;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_f32(std::uint16_t h) noexcept {
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f = 0;
  std::memcpy(&f, &bits, 4);
  return f;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw InvalidArgument("model weights " + name + ": cannot be opened (" +
                          std::error_code(errno, std::generic_category()).message() +
                          "). Remediation: fetch the model with scripts/fetch-model.sh, or point the "
                          "embedder at a directory that holds model.safetensors.");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(name, "is not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<std::size_t>(st.st_size);
  if (mapping->size > 0) {
    void* addr = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      ::close(fd);
      fail(name, "cannot be mapped (" + std::error_code(errno, std::generic_category()).message() + ")");
    }
    mapping->addr = addr;
  }
  ::close(fd);
  SafetensorsFile file =
      parse(std::span<const std::byte>(static_cast<const std::byte*>(mapping->addr), mapping->size), name);
  file.mapping_ = std::move(mapping);
  return file;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, std::string display_name) {
  SafetensorsFile file;
  file.name_ = std::move(display_name);
  const std::string& name = file.name_;
  if (bytes.size() < 8)
    fail(name, "is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
  const std::uint64_t available = bytes.size() - 8;
  if (header_len > available) {
    fail(name, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(available) + " bytes after the length; the file is truncated or not safetensors)");
  }
  if (header_len > kMaxHeaderBytes) fail(name, "header length " + std::to_string(header_len) + " exceeds 100 MiB");
  if (header_len < 2) fail(name, "header is empty");
  file.data_ = bytes.subspan(8 + static_cast<std::size_t>(header_len));

  simdjson::padded_string json(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(header_len));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json).get(doc))
    fail(name, std::string("header is not valid JSON (") + simdjson::error_message(err) + ")");
  simdjson::dom::object root;
  if (doc.get_object().get(root)) fail(name, "header is not a JSON object");

  const std::uint64_t data_size = file.data_.size();
  for (auto [key_view, value] : root) {
    const std::string key(key_view);
    if (key == "__metadata__") {
      if (!value.is_object()) fail(name, "\"__metadata__\" is not an object");
      continue;
    }
    const std::string where = "tensor '" + key + "'";
    simdjson::dom::object entry;
    if (value.get_object().get(entry)) fail(name, where + " is not an object");
    TensorInfo info;
    std::string_view dtype;
    if (entry["dtype"].get_string().get(dtype)) fail(name, where + " has no string \"dtype\"");
    info.dtype = std::string(dtype);
    const std::uint64_t elem = dtype_size(info.dtype);
    if (elem == 0) fail(name, where + " has unknown dtype \"" + info.dtype + "\"");
    simdjson::dom::array shape;
    if (entry["shape"].get_array().get(shape)) fail(name, where + " has no \"shape\" array");
    std::uint64_t bytes_needed = elem;
    for (auto dim : shape) {
      std::uint64_t d = 0;
      if (dim.get_uint64().get(d)) fail(name, where + " has a shape entry that is not a non-negative integer");
      if (info.shape.size() >= 16) fail(name, where + " has more than 16 dimensions");
      info.shape.push_back(d);
      if (__builtin_mul_overflow(bytes_needed, d, &bytes_needed))
        fail(name, where + " has a shape whose size overflows");
    }
    simdjson::dom::array offsets;
    if (entry["data_offsets"].get_array().get(offsets) || offsets.size() != 2)
      fail(name, where + " has no \"data_offsets\" [begin, end] pair");
    if (offsets.at(0).get_uint64().get(info.begin) || offsets.at(1).get_uint64().get(info.end))
      fail(name, where + " has data_offsets that are not non-negative integers");
    if (info.begin > info.end || info.end > data_size) {
      fail(name, where + " has data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                     ") outside the data section of " + std::to_string(data_size) + " bytes");
    }
    if (info.end - info.begin != bytes_needed) {
      fail(name, where + " spans " + std::to_string(info.end - info.begin) + " bytes but its dtype " + info.dtype +
                     " and shape " + shape_text(info.shape) + " need " + std::to_string(bytes_needed));
    }
    if (!file.tensors_.emplace(key, std::move(info)).second) fail(name, where + " appears twice in the header");
  }
  std::vector<const std::pair<const std::string, TensorInfo>*> by_offset;
  for (const auto& entry : file.tensors_) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) {
    return a->second.begin != b->second.begin ? a->second.begin < b->second.begin : a->second.end < b->second.end;
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const auto& prev = *by_offset[i - 1];
    const auto& cur = *by_offset[i];
    if (cur.second.begin < prev.second.end && cur.second.begin != cur.second.end &&
        prev.second.begin != prev.second.end)
      fail(name, "tensors '" + prev.first + "' and '" + cur.first + "' overlap in the data section");
  }
  return file;
}

FloatTensor SafetensorsFile::f32(std::string_view tensor, std::span<const std::uint64_t> expected_shape,
                                 std::string_view expected_from) const {
  const auto it = tensors_.find(tensor);
  if (it == tensors_.end()) {
    fail(name_, "has no tensor '" + std::string(tensor) + "' (needed by the architecture in " +
                    std::string(expected_from) + ")");
  }
  const TensorInfo& info = it->second;
  const std::string where = "tensor '" + std::string(tensor) + "'";
  if (!std::equal(info.shape.begin(), info.shape.end(), expected_shape.begin(), expected_shape.end())) {
    fail(name_, where + " has shape " + shape_text(info.shape) + " but " + std::string(expected_from) + " implies " +
                    shape_text(expected_shape));
  }
  if (info.dtype != "F32" && info.dtype != "F16" && info.dtype != "BF16")
    fail(name_, where + " has dtype " + info.dtype + "; only F32, F16 and BF16 weights are supported");
  const std::byte* src = data_.data() + info.begin;
  const std::size_t bytes = static_cast<std::size_t>(info.end - info.begin);
  FloatTensor out;
  if (info.dtype == "F32") {
    const std::size_t n = bytes / 4;
    if (reinterpret_cast<std::uintptr_t>(src) % alignof(float) == 0) {
      out.data = std::span<const float>(reinterpret_cast<const float*>(src), n);
    } else {
      auto owned = std::make_shared<std::vector<float>>(n);
      std::memcpy(owned->data(), src, bytes);
      out.data = *owned;
      out.owned = std::move(owned);
    }
    return out;
  }
  const std::size_t n = bytes / 2;
  auto owned = std::make_shared<std::vector<float>>(n);
  const bool half = info.dtype == "F16";
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t h = 0;
    std::memcpy(&h, src + 2 * i, 2);  // little-endian host (x86-64, aarch64)
    (*owned)[i] = half ? f16_to_f32(h) : bf16_to_f32(h);
  }
  out.data = *owned;
  out.owned = std::move(owned);
  return out;
}

}  // namespace engram::detail
