#pragma once
// The exception hierarchy. Every engram failure is an engram::Error with a stable code();
// messages say what went wrong and end with "Remediation: ..." naming what to do about it.
// A cache miss is never an exception. Bad input never half-writes.
//
//   Error
//   ├── InvalidArgument      bad input to a public call; nothing was written
//   ├── EmbedderMismatch     store was created by another embedder (fingerprint differs)
//   ├── DimensionMismatch    store was created with another embedding dimension
//   ├── CacheClosed          any call after close()
//   ├── EmbedderUnavailable  retryable: the embedder could not produce a vector (an HTTP
//   │                        embedding service down, timing out, rate limiting, or answering
//   │                        with an error or a malformed response). SemanticCache::get turns
//   │                        it into a miss counted as MissReason::kError (reported to
//   │                        on_error) when fail_open is set; put throws it (and
//   │                        get_or_compute reports it and still returns the computed
//   │                        value when fail_open is set). Retrying later may succeed.
//   └── StoreError           the backing store failed
//       ├── StoreUnavailable retryable: Redis down, SQLite busy past its timeout
//       ├── StoreCorrupt     the backing data is damaged or not an engram store
//       ├── SchemaError      schema newer than this build, or migration failed
//       └── CheckpointError  snapshot, restore or maintenance failed

#include <stdexcept>
#include <string>

namespace engram {

enum class ErrorCode {
  kInvalidArgument,
  kEmbedderMismatch,
  kDimensionMismatch,
  kCacheClosed,
  kStore,
  kStoreUnavailable,
  kStoreCorrupt,
  kSchema,
  kCheckpoint,
  kEmbedderUnavailable,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// Name and Base are a class name and a base class, which cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ENGRAM_DEFINE_ERROR(Name, Base, Code)                                     \
  class Name : public Base {                                                      \
   public:                                                                        \
    explicit Name(const std::string& message) : Base(ErrorCode::Code, message) {} \
                                                                                  \
   protected:                                                                     \
    Name(ErrorCode code, const std::string& message) : Base(code, message) {}     \
  };
// NOLINTEND(bugprone-macro-parentheses)

ENGRAM_DEFINE_ERROR(InvalidArgument, Error, kInvalidArgument)
ENGRAM_DEFINE_ERROR(EmbedderMismatch, Error, kEmbedderMismatch)
ENGRAM_DEFINE_ERROR(DimensionMismatch, Error, kDimensionMismatch)
ENGRAM_DEFINE_ERROR(CacheClosed, Error, kCacheClosed)
ENGRAM_DEFINE_ERROR(EmbedderUnavailable, Error, kEmbedderUnavailable)
ENGRAM_DEFINE_ERROR(StoreError, Error, kStore)
ENGRAM_DEFINE_ERROR(StoreUnavailable, StoreError, kStoreUnavailable)
ENGRAM_DEFINE_ERROR(StoreCorrupt, StoreError, kStoreCorrupt)
ENGRAM_DEFINE_ERROR(SchemaError, StoreError, kSchema)
ENGRAM_DEFINE_ERROR(CheckpointError, StoreError, kCheckpoint)

#undef ENGRAM_DEFINE_ERROR

}  // namespace engram
