#include "engram/detail/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "engram/errors.hpp"

namespace engram::detail {
namespace {

constexpr std::size_t kBufferBytes = std::size_t{256} * 1024;
// How many taken temporary names a writer skips before giving up. Names are only taken by
// crashed writers or by someone planting files: either way a bounded search is enough, and
// an endless one would let a directory full of junk hang the caller.
constexpr int kTempAttempts = 1024;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::filesystem::path directory_of(const std::filesystem::path& file) {
  auto dir = file.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

}  // namespace

DurableFileWriter::DurableFileWriter(std::filesystem::path dest, std::string who)
    : dest_(std::move(dest)), who_(std::move(who)) {
  if (dest_.empty() || !dest_.has_filename()) {
    throw CheckpointError(who_ + ": cannot write a snapshot to '" + dest_.string() +
                          "': not a file path. Remediation: pass the path of the file to write.");
  }
  // pid + a process-wide sequence keeps concurrent writers (threads, processes) apart without
  // relying on randomness; O_EXCL is what makes it safe when a name is taken anyway.
  static std::atomic<std::uint64_t> sequence{0};
  int err = 0;
  for (int attempt = 0; attempt < kTempAttempts; ++attempt) {
    auto candidate = dest_;
    candidate += ".engram-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(sequence.fetch_add(1));
    fd_ = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ >= 0) {
      tmp_ = std::move(candidate);
      break;
    }
    err = errno;
    if (err != EEXIST && err != ELOOP && err != EINTR) break;
  }
  if (fd_ < 0) {
    done_ = true;  // nothing was created
    throw CheckpointError(who_ + ": cannot create a temporary file beside '" + dest_.string() +
                          "': " + errno_text(err) +
                          ". Remediation: check that the directory exists and is writable, and remove stale "
                          "'*.engram-tmp-*' files there.");
  }
  // The umask may have removed bits (0400 under umask 0277); the snapshot's owner must still
  // be able to replace it, and nobody else may read it.
  if (::fchmod(fd_, 0600) != 0) fail("cannot set mode 0600 on", errno, "check the file system.");
  buffer_.reserve(kBufferBytes);
}

DurableFileWriter::~DurableFileWriter() { discard(); }

void DurableFileWriter::discard() noexcept {
  if (done_) return;
  done_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
}

void DurableFileWriter::fail(const std::string& what, int err, const std::string& remediation) {
  discard();
  throw CheckpointError(who_ + ": " + what + " '" + tmp_.string() + "' (snapshot '" + dest_.string() +
                        "'): " + errno_text(err) + ". Remediation: " + remediation);
}

void DurableFileWriter::write(const void* data, std::size_t n) {
  if (done_) {
    throw CheckpointError(who_ +
                          ": write after the snapshot file was finished or abandoned. Remediation: "
                          "this is a bug in the caller; take the snapshot again.");
  }
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const std::size_t room = kBufferBytes - buffer_.size();
    const std::size_t take = n < room ? n : room;
    buffer_.insert(buffer_.end(), p, p + take);
    p += take;
    n -= take;
    if (buffer_.size() == kBufferBytes) flush_buffer();
  }
}

void DurableFileWriter::flush_buffer() {
  std::size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t w = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      fail("cannot write", err,
           err == ENOSPC || err == EDQUOT ? "free disk space (or raise the quota) and retry."
                                          : "check the file system and retry.");
    }
    off += static_cast<std::size_t>(w);
  }
  buffer_.clear();
}

void DurableFileWriter::commit() {
  if (done_) {
    throw CheckpointError(who_ +
                          ": the snapshot file was already finished or abandoned. Remediation: this is a "
                          "bug in the caller; take the snapshot again.");
  }
  flush_buffer();
  // The data must be on disk before the rename makes it visible under dest: otherwise a crash
  // could leave dest naming an empty or partial file.
  if (::fsync(fd_) != 0) fail("cannot fsync", errno, "check the file system and free space, then retry.");
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail("cannot close", errno, "check the file system and free space, then retry.");
  if (::rename(tmp_.c_str(), dest_.c_str()) != 0) {
    fail("cannot rename", errno, "check that the destination is writable and is not a directory.");
  }
  done_ = true;  // the temporary name is gone: dest holds the new file
  // The rename itself lives in the directory: fsync it so that dest names the new file after
  // a power loss. File systems that cannot fsync a directory (EINVAL) order it themselves.
  const auto dir = directory_of(dest_);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int err = 0;
  if (dfd < 0) {
    err = errno;
  } else {
    if (::fsync(dfd) != 0 && errno != EINVAL) err = errno;
    ::close(dfd);
  }
  if (err != 0) {
    throw CheckpointError(who_ + ": snapshot '" + dest_.string() + "' was written, but its directory '" + dir.string() +
                          "' could not be synced: " + errno_text(err) +
                          ". Remediation: check the file system; take the snapshot again if the machine lost "
                          "power since.");
  }
}

void write_file_durably(const std::filesystem::path& dest, std::string_view bytes, const std::string& who) {
  DurableFileWriter w(dest, who);
  w.write(bytes);
  w.commit();
}

// ---- FileReader ------------------------------------------------------------------------

FileReader::FileReader(const std::filesystem::path& path, std::string who) : path_(path), who_(std::move(who)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    throw CheckpointError(who_ + ": cannot open the snapshot '" + path_.string() + "': " + errno_text(err) +
                          ". Remediation: check the path and its permissions.");
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw CheckpointError(who_ + ": the snapshot '" + path_.string() +
                          "' is not a regular file. Remediation: pass the path of a file written by snapshot_to().");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  buffer_.resize(kBufferBytes);
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileReader::refill() {
  // Never read past the size seen at open: a file that grows meanwhile is not read further,
  // so remaining() stays an upper bound the parser can trust.
  const std::uint64_t left_on_disk = size_ - consumed_ - (end_ - begin_);
  if (left_on_disk == 0) return false;
  begin_ = 0;
  end_ = 0;
  const std::size_t want = left_on_disk < buffer_.size() ? static_cast<std::size_t>(left_on_disk) : buffer_.size();
  for (;;) {
    ssize_t r = ::read(fd_, buffer_.data(), want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      throw CheckpointError(who_ + ": error while reading the snapshot '" + path_.string() + "': " + errno_text(err) +
                            ". Remediation: check the file system.");
    }
    end_ = static_cast<std::size_t>(r);
    return r > 0;  // 0: the file shrank since it was opened
  }
}

bool FileReader::read(void* out, std::size_t n) {
  char* dst = static_cast<char*>(out);
  while (n > 0) {
    if (begin_ == end_ && !refill()) return false;
    const std::size_t take = n < end_ - begin_ ? n : end_ - begin_;
    std::memcpy(dst, buffer_.data() + begin_, take);
    begin_ += take;
    consumed_ += take;
    dst += take;
    n -= take;
  }
  return true;
}

}  // namespace engram::detail
