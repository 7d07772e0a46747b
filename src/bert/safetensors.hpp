#pragma once
// Reading model.safetensors: an 8-byte little-endian header length N, N bytes of JSON header
// ({"name": {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {...}}), then the
// data section the offsets index. The file is mapped read-only and every header field is checked
// before any tensor byte is read: header length within the file, valid JSON, known dtypes, each
// tensor's [begin, end) inside the data section, no two tensors overlapping, and
// end - begin == product(shape) * sizeof(dtype) without overflow. A lying header throws
// InvalidArgument naming the file; it never reads out of bounds.
//
// Tensors are handed out as float32: F32 tensors stay in the mapping (zero copy when 4-byte
// aligned), F16 and BF16 tensors are converted to float32 once, at load (GEMMs then run in f32).
// Thread safety: immutable after construction; safe to share.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace engram::detail {

struct TensorInfo {
  std::string dtype;                 // "F32", "F16", "BF16", "I64", ...
  std::vector<std::uint64_t> shape;  // row-major
  std::uint64_t begin = 0;           // byte offsets into the data section
  std::uint64_t end = 0;
};

// A float32 tensor: `data` points into the mapping or into `owned`.
struct FloatTensor {
  std::span<const float> data;
  std::shared_ptr<const std::vector<float>> owned;  // set when converted or realigned
};

class SafetensorsFile {
 public:
  // Maps `path` read-only and validates its header. Throws InvalidArgument (missing or
  // unreadable file, truncated, lying header) naming the file.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates an in-memory image (the fuzzer's entry point); `bytes` must outlive the result.
  // `display_name` is used in error messages.
  static SafetensorsFile parse(std::span<const std::byte> bytes, std::string display_name);

  const std::string& name() const noexcept { return name_; }
  const std::map<std::string, TensorInfo, std::less<>>& tensors() const noexcept { return tensors_; }
  bool contains(std::string_view tensor) const { return tensors_.find(tensor) != tensors_.end(); }

  // The tensor `tensor` as float32, after checking it exists, its dtype is F32, F16 or BF16 and
  // its shape equals `expected_shape`. Throws InvalidArgument naming the file, the tensor and
  // the mismatch (and `expected_from`, e.g. "config.json", as the source of the expectation).
  FloatTensor f32(std::string_view tensor, std::span<const std::uint64_t> expected_shape,
                  std::string_view expected_from) const;

 private:
  SafetensorsFile() = default;
  std::string name_;
  std::shared_ptr<const void> mapping_;  // keeps the mmap alive (null for parse())
  std::span<const std::byte> data_;      // the data section
  std::map<std::string, TensorInfo, std::less<>> tensors_;
};

// IEEE half / bfloat16 to float.
float f16_to_f32(std::uint16_t h) noexcept;
float bf16_to_f32(std::uint16_t h) noexcept;

}  // namespace engram::detail
