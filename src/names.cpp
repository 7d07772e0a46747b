// Stable names of enums, used in stats, metrics events and messages.
#include "engram/options.hpp"
#include "engram/types.hpp"

namespace engram {

const char* to_string(MissReason reason) noexcept {
  switch (reason) {
    case MissReason::kNoCandidate:
      return "no_candidate";
    case MissReason::kBelowThreshold:
      return "below_threshold";
    case MissReason::kExpired:
      return "expired";
    case MissReason::kRejected:
      return "rejected";
    case MissReason::kLowConfidence:
      return "low_confidence";
    case MissReason::kBypass:
      return "bypass";
    case MissReason::kError:
      return "error";
    case MissReason::kGuarded:
      return "guarded";
  }
  return "unknown";
}

const char* to_string(Layer layer) noexcept { return layer == Layer::kExact ? "exact" : "semantic"; }

const char* to_string(IndexKind kind) noexcept {
  switch (kind) {
    case IndexKind::kFlat:
      return "flat";
    case IndexKind::kHnsw:
      return "hnsw";
    case IndexKind::kAuto:
      return "auto";
  }
  return "unknown";
}

const char* to_string(ElementType type) noexcept {
  switch (type) {
    case ElementType::kF32:
      return "f32";
    case ElementType::kF16:
      return "f16";
    case ElementType::kInt8:
      return "int8";
  }
  return "unknown";
}

}  // namespace engram
