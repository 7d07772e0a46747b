#pragma once
// Durable, private, atomically replaced files (snapshots), and a bounded-memory reader for them.
//
// Why this exists. A snapshot holds every cached question and answer, so it must not be
// readable by other users, must never be written through a symlink someone planted beside it,
// and must either be absent or complete after a crash. Stores that write snapshot files share
// this one implementation instead of each opening "<path>.tmp" with std::ofstream.
//
// DurableFileWriter contract:
//   * The constructor creates a NEW temporary file in the directory of `dest`, named
//     "<dest>.engram-tmp-<pid>-<n>", with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and mode 0600
//     (set with fchmod, so the umask cannot widen or narrow it). An existing name of that
//     form (a file, a directory, a symlink, dangling or not) is never opened, followed or
//     modified: the next n is tried instead.
//   * write() appends bytes (buffered); commit() flushes, fsyncs the file, closes it,
//     renames it over `dest` (replacing a file or a symlink AT dest, never the symlink's
//     target) and fsyncs the directory, so `dest` is the old file or the new one, never a
//     partial one, and the new one survives a power loss once commit() returns.
//   * Every failure throws CheckpointError whose message names the path and ends with a
//     Remediation. A writer destroyed without a successful commit() (an exception, an early
//     return) removes its temporary file; `dest` is untouched.
//   * Not thread-safe; one writer per file. Different writers (threads or processes) may
//     target the same dest: each has its own temporary file, the last rename wins.
//
// FileReader contract:
//   * Opens an existing regular file (following symlinks: the caller chose the path) and
//     reads it sequentially through a fixed 256 KiB buffer, so memory stays bounded whatever
//     the file's size. size() is the size when opened; remaining() what is left of it, which
//     lets a parser reject a length field larger than the file before allocating.
//   * Throws CheckpointError (with a Remediation) when the file cannot be opened, is not a
//     regular file, or a read fails. Running out of bytes is not an error here: read()
//     returns false and the caller reports the truncation in its own terms.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace engram::detail {

class DurableFileWriter {
 public:
  // `who` prefixes every message ("DictStore", "RedisStore").
  DurableFileWriter(std::filesystem::path dest, std::string who);
  ~DurableFileWriter();
  DurableFileWriter(const DurableFileWriter&) = delete;
  DurableFileWriter& operator=(const DurableFileWriter&) = delete;

  void write(const void* data, std::size_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // Makes the written bytes the content of dest (see the contract above). Call at most once.
  void commit();

  // The temporary file being written (for messages and tests).
  const std::filesystem::path& temp_path() const noexcept { return tmp_; }

 private:
  void flush_buffer();
  void discard() noexcept;
  [[noreturn]] void fail(const std::string& what, int err, const std::string& remediation);

  std::filesystem::path dest_;
  std::filesystem::path tmp_;
  std::string who_;
  int fd_ = -1;
  bool done_ = false;  // committed or discarded: nothing left to clean up
  std::vector<char> buffer_;
};

// Writes `bytes` to `dest` with a DurableFileWriter.
void write_file_durably(const std::filesystem::path& dest, std::string_view bytes, const std::string& who);

class FileReader {
 public:
  FileReader(const std::filesystem::path& path, std::string who);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::uint64_t size() const noexcept { return size_; }
  std::uint64_t remaining() const noexcept { return size_ - consumed_; }
  // Copies the next n bytes to `out`; false when the file ends first (then the bytes that
  // were there have been consumed).
  bool read(void* out, std::size_t n);

 private:
  bool refill();

  std::filesystem::path path_;
  std::string who_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t consumed_ = 0;  // bytes handed to the caller
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;  // unread bytes of buffer_
};

}  // namespace engram::detail
