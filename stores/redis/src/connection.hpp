#pragma once
// Internal: one blocking hiredis connection with lazy connect, automatic reconnect, fork
// detection, script loading (SCRIPT LOAD once, EVALSHA, reload on NOSCRIPT) and the mapping
// of Redis failures onto engram's exception hierarchy.

#include <hiredis/hiredis.h>

#include <sys/types.h>
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engram/stores/redis_store.hpp"

namespace engram::detail {

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

enum class ScriptId : std::size_t {
  kOpen,
  kUpsert,
  kTouch,
  kDelete,
  kDeleteExpired,
  kClearNamespace,
  kGetByHash,
  kChanges,
  kPage,
  kIntegrity,
  kRestoreRows,
  kRestoreSwitch,
  kCount_,
};

// Arguments of one command, kept as views: the caller's strings must outlive the call.
class Args {
 public:
  Args& add(std::string_view s) {
    data_.push_back(s.data());
    sizes_.push_back(s.size());
    return *this;
  }
  // For numbers and other temporaries: the Args object owns the text.
  Args& own(std::string s) {
    owned_.push_back(std::make_unique<std::string>(std::move(s)));
    return add(*owned_.back());
  }
  std::size_t size() const noexcept { return data_.size(); }
  // hiredis takes `const char**` although it never writes through it.
  const char** data() const noexcept { return const_cast<const char**>(data_.data()); }
  const std::size_t* sizes() const noexcept { return sizes_.data(); }

 private:
  std::vector<const char*> data_;
  std::vector<std::size_t> sizes_;
  std::vector<std::unique_ptr<std::string>> owned_;
};

class RedisConnection {
 public:
  explicit RedisConnection(RedisOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  const RedisOptions& options() const noexcept { return options_; }

  // Runs one command. Throws StoreUnavailable on connection or I/O failure (the connection
  // is dropped and re-established by the next call), StoreError/StoreCorrupt on an error
  // reply. Never returns a null reply or an error reply.
  Reply command(const Args& args);
  // Runs a script with EVALSHA (loading it first if this process has not yet, and again
  // after NOSCRIPT). `args` are the script's ARGV; KEYS[1] is the prefix's counter key, which
  // routes the call to the prefix's slot in a cluster.
  Reply eval(ScriptId script, const Args& args);
  // Sends every command, then reads every reply (one round trip).
  std::vector<Reply> pipeline(const std::vector<Args>& commands);

  // Makes sure a connection is up (used by open() so that it fails early and clearly).
  void ensure_connected();
  void disconnect() noexcept;
  // True when a command can be run right now; never throws.
  bool ping() noexcept;

  // "{prefix}:" — every key of the cache starts with it.
  const std::string& base() const noexcept { return base_; }
  // The run_id of the server instance this connection last reached (INFO server). It changes
  // when Redis restarts or a failover moves the connection to another instance — the two ways
  // a server's data can go back in time under a reader. Empty before the first connect.
  const std::string& server_run_id() const noexcept { return server_run_id_; }

 private:
  void connect();
  bool stale() const noexcept;
  [[noreturn]] void fail_io(const char* during);
  void check_error(const redisReply* reply, std::string_view during);
  Reply raw(const Args& args, std::string_view during);
  void load_script(ScriptId script);

  RedisOptions options_;
  std::string base_;
  std::string where_;  // options_.describe(), for messages
  redisContext* ctx_ = nullptr;
  pid_t pid_ = 0;  // the process that opened ctx_
  std::string server_run_id_;
  std::array<std::string, static_cast<std::size_t>(ScriptId::kCount_)> shas_;
};

}  // namespace engram::detail
