#pragma once
// A small process-wide pool for splitting large flat scans. parallel_for lets the calling
// thread take tasks too and hands out task indices from an atomic counter, so a call never
// waits on a busy pool to make progress: if every worker is occupied by other searches, the
// caller simply runs all tasks itself. Workers are started lazily, up to the largest
// parallelism ever requested (minus the caller), and joined at process exit.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace engram::detail {

class ThreadPool {
 public:
  static ThreadPool& shared();

  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(i) once for every i in [0, n), on at most `threads` threads including the caller.
  // Returns when all calls have finished; rethrows the first exception one of them threw.
  void parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& fn);

 private:
  void ensure_workers(std::size_t count);
  void worker_loop();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
};

}  // namespace engram::detail
