#include "thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>

namespace engram::detail {

namespace {
constexpr std::size_t kMaxWorkers = 64;

// Shared by the caller and the helpers of one parallel_for; helpers may start after the call
// returned, so it is reference-counted and `fn` is only dereferenced for a valid index.
struct ForState {
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::size_t n = 0;
  const std::function<void(std::size_t)>* fn = nullptr;
  std::mutex mutex;
  std::condition_variable cv;
  std::exception_ptr error;

  void run() {
    for (;;) {
      const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      try {
        (*fn)(i);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
        std::lock_guard lock(mutex);
        cv.notify_all();
      }
    }
  }
};
}  // namespace

ThreadPool& ThreadPool::shared() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::ensure_workers(std::size_t count) {
  // Caller holds mutex_.
  count = std::min(count, kMaxWorkers);
  while (workers_.size() < count) workers_.emplace_back([this] { worker_loop(); });
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void ThreadPool::parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  const std::size_t helpers = std::min(threads, n) - (threads > 0 ? 1 : 0);
  if (helpers == 0) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto state = std::make_shared<ForState>();
  state->n = n;
  state->fn = &fn;
  {
    std::lock_guard lock(mutex_);
    ensure_workers(helpers);
    for (std::size_t h = 0; h < helpers; ++h) queue_.emplace_back([state] { state->run(); });
  }
  if (helpers == 1) cv_.notify_one();
  else cv_.notify_all();
  state->run();
  std::unique_lock lock(state->mutex);
  state->cv.wait(lock, [&] { return state->done.load(std::memory_order_acquire) == n; });
  if (state->error) std::rethrow_exception(state->error);
}

}  // namespace engram::detail
