#include "connection.hpp"

#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "engram/errors.hpp"
#include "scripts.hpp"

namespace engram::detail {
namespace {

timeval to_timeval(Millis ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

const char* script_source(ScriptId id) {
  switch (id) {
    case ScriptId::kOpen:
      return lua::kOpen;
    case ScriptId::kUpsert:
      return lua::kUpsert;
    case ScriptId::kTouch:
      return lua::kTouch;
    case ScriptId::kDelete:
      return lua::kDelete;
    case ScriptId::kDeleteExpired:
      return lua::kDeleteExpired;
    case ScriptId::kClearNamespace:
      return lua::kClearNamespace;
    case ScriptId::kGetByHash:
      return lua::kGetByHash;
    case ScriptId::kChanges:
      return lua::kChanges;
    case ScriptId::kPage:
      return lua::kPage;
    case ScriptId::kIntegrity:
      return lua::kIntegrity;
    case ScriptId::kRestoreRows:
      return lua::kRestoreRows;
    case ScriptId::kRestoreSwitch:
      return lua::kRestoreSwitch;
    case ScriptId::kCount_:
      break;
  }
  return "";
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

}  // namespace

RedisConnection::RedisConnection(RedisOptions options)
    : options_(std::move(options)), base_("{" + options_.key_prefix + "}:"), where_(options_.describe()) {}

RedisConnection::~RedisConnection() { disconnect(); }

void RedisConnection::disconnect() noexcept {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

// A connection that has data to read or a hang-up pending while no request is outstanding
// was closed by the server (restart, CLIENT KILL, idle timeout). Finding that out with a
// zero-timeout poll before sending means a request is never written into a dead socket,
// so a write is only ever reported as failed when it may really not have happened.
bool RedisConnection::stale() const noexcept {
  pollfd pfd{};
  pfd.fd = ctx_->fd;
  pfd.events = POLLIN;
  int n = ::poll(&pfd, 1, 0);
  return n != 0;
}

void RedisConnection::ensure_connected() {
  if (ctx_ != nullptr && pid_ != ::getpid()) {
    // Inherited across fork(): the socket is shared with the parent. Close our copy of the
    // descriptor (the parent's connection stays up) and open our own.
    disconnect();
  }
  if (ctx_ != nullptr && (ctx_->err != 0 || stale())) disconnect();
  if (ctx_ == nullptr) connect();
}

void RedisConnection::connect() {
  timeval tv = to_timeval(options_.connect_timeout);
  redisContext* ctx = options_.unix_socket.empty() ? redisConnectWithTimeout(options_.host.c_str(), options_.port, tv)
                                                   : redisConnectUnixWithTimeout(options_.unix_socket.c_str(), tv);
  if (ctx == nullptr) {
    throw StoreUnavailable("RedisStore: cannot allocate a connection to " + where_ +
                           ". Remediation: check the process's memory limits.");
  }
  if (ctx->err != 0) {
    std::string why = ctx->errstr;
    redisFree(ctx);
    throw StoreUnavailable("RedisStore: cannot connect to " + where_ + ": " + why +
                           ". Remediation: start redis-server or fix RedisOptions (host, port, "
                           "unix_socket, connect_timeout); the store reconnects on the next call.");
  }
  ctx_ = ctx;
  pid_ = ::getpid();
  redisSetTimeout(ctx_, to_timeval(options_.command_timeout));
  if (options_.unix_socket.empty()) redisEnableKeepAlive(ctx_);

  try {
    if (!options_.password.empty()) {
      Args auth;
      auth.add("AUTH");
      if (!options_.username.empty()) auth.add(options_.username);
      auth.add(options_.password);
      Reply r(
          static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(auth.size()), auth.data(), auth.sizes())));
      if (!r) fail_io("AUTH");
      if (r->type == REDIS_REPLY_ERROR) {
        throw StoreError("RedisStore: " + where_ + " rejected authentication (" + std::string(r->str, r->len) +
                         "). Remediation: set RedisOptions::password (and username for an ACL "
                         "user) to the server's requirepass or ACL credentials.");
      }
    }
    if (options_.database != 0) {
      Args select;
      select.add("SELECT").own(std::to_string(options_.database));
      Reply r(static_cast<redisReply*>(
          redisCommandArgv(ctx_, static_cast<int>(select.size()), select.data(), select.sizes())));
      if (!r) fail_io("SELECT");
      if (r->type == REDIS_REPLY_ERROR) {
        check_error(r.get(), "SELECT");
      }
    }
    Args info;
    info.add("INFO").add("server");
    Reply r(static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(info.size()), info.data(), info.sizes())));
    if (!r) fail_io("INFO");
    if (r->type == REDIS_REPLY_STRING) {  // hiredis 0.14 speaks RESP2 only
      const std::string_view text(r->str, r->len);
      if (const auto at = text.find("run_id:"); at != std::string_view::npos) {
        const auto from = at + 7;
        server_run_id_ = std::string(text.substr(from, text.find_first_of("\r\n", from) - from));
      }
    }
  } catch (...) {
    disconnect();
    throw;
  }
}

void RedisConnection::fail_io(const char* during) {
  std::string why = ctx_ != nullptr && ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost";
  disconnect();
  throw StoreUnavailable("RedisStore: lost the connection to " + where_ + " during " + during + ": " + why +
                         ". Remediation: check that redis-server is running and reachable; the "
                         "store reconnects on the next call. A write that failed this way may or "
                         "may not have been applied.");
}

void RedisConnection::check_error(const redisReply* reply, std::string_view during) {
  if (reply->type != REDIS_REPLY_ERROR) return;
  std::string msg(reply->str, reply->len);
  std::string head =
      "RedisStore: " + where_ + " answered " + std::string(during) + " with \"" + msg + "\". Remediation: ";
  if (starts_with(msg, "NOAUTH") || starts_with(msg, "WRONGPASS") || starts_with(msg, "NOPERM")) {
    throw StoreError(head +
                     "set RedisOptions::password (and username) to credentials the server "
                     "accepts, with permission for the keys of the prefix.");
  }
  if (starts_with(msg, "LOADING") || starts_with(msg, "BUSY") || starts_with(msg, "MASTERDOWN") ||
      starts_with(msg, "READONLY") || starts_with(msg, "TRYAGAIN") || starts_with(msg, "CLUSTERDOWN") ||
      starts_with(msg, "OOM")) {
    throw StoreUnavailable(head +
                           "retry later; the server is loading, busy, out of memory (raise "
                           "maxmemory or use an eviction policy that spares the prefix) or "
                           "failing over.");
  }
  if (starts_with(msg, "WRONGTYPE") || msg.find("ENGRAM_CORRUPT") != std::string::npos) {
    throw StoreCorrupt(head +
                       "a key of the prefix holds unexpected data; restore from a snapshot or "
                       "clear the prefix.");
  }
  if (msg.find("ENGRAM_RESTORE_INCOMPLETE") != std::string::npos) {
    throw CheckpointError(head +
                          "another restore into the same prefix switched in first (the prefix holds its "
                          "data), or Redis evicted staging keys (use maxmemory-policy noeviction while "
                          "restoring). The destination was not changed by this restore; run it again.");
  }
  if (starts_with(msg, "MOVED") || starts_with(msg, "ASK")) {
    throw StoreError(head +
                     "connect RedisStore to the cluster node that owns the prefix's slot (one "
                     "cache lives in one slot).");
  }
  throw StoreError(head + "check the server's version (Redis 6 or later) and configuration.");
}

Reply RedisConnection::raw(const Args& args, std::string_view during) {
  ensure_connected();
  Reply r(static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), args.sizes())));
  if (!r) fail_io(std::string(during).c_str());
  return r;
}

Reply RedisConnection::command(const Args& args) {
  std::string_view name(args.data()[0], args.sizes()[0]);
  Reply r = raw(args, name);
  check_error(r.get(), name);
  return r;
}

void RedisConnection::load_script(ScriptId script) {
  Args args;
  args.add("SCRIPT").add("LOAD").own(std::string(lua::kPrelude) + script_source(script));
  Reply r = command(args);
  if (r->type != REDIS_REPLY_STRING) {
    throw StoreError("RedisStore: SCRIPT LOAD on " + where_ +
                     " did not return a SHA1. Remediation: use Redis 6 or later.");
  }
  shas_[static_cast<std::size_t>(script)] = std::string(r->str, r->len);
}

Reply RedisConnection::eval(ScriptId script, const Args& args) {
  auto& sha = shas_[static_cast<std::size_t>(script)];
  const std::string counter_key = base_ + "ver";
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sha.empty()) load_script(script);
    Args full;
    full.add("EVALSHA").add(sha).add("1").add(counter_key);
    for (std::size_t i = 0; i < args.size(); ++i) full.add({args.data()[i], args.sizes()[i]});
    Reply r = raw(full, "EVALSHA");
    if (r->type == REDIS_REPLY_ERROR && starts_with({r->str, r->len}, "NOSCRIPT")) {
      // The server lost its script cache (restart, SCRIPT FLUSH, failover): load it again.
      sha.clear();
      continue;
    }
    check_error(r.get(), "a script");
    return r;
  }
  throw StoreError("RedisStore: " + where_ +
                   " forgot a script right after loading it. Remediation: check the server's "
                   "script cache configuration.");
}

std::vector<Reply> RedisConnection::pipeline(const std::vector<Args>& commands) {
  ensure_connected();
  for (const auto& args : commands) {
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), args.sizes()) != REDIS_OK) {
      fail_io("a pipelined command");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw_reply = nullptr;
    if (redisGetReply(ctx_, &raw_reply) != REDIS_OK || raw_reply == nullptr) {
      fail_io("a pipelined command");
    }
    replies.emplace_back(static_cast<redisReply*>(raw_reply));
  }
  for (const auto& r : replies) check_error(r.get(), "a pipelined command");
  return replies;
}

bool RedisConnection::ping() noexcept {
  try {
    Args args;
    args.add("PING");
    command(args);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace engram::detail
