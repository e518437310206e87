// A fixed pool of worker threads for data-parallel kernels. parallel_for splits [0, n)
// into contiguous chunks, runs them on the workers and the calling thread, and returns
// when all are done. Kernels stay pure: the pool is passed in, never global.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace baton {

class ThreadPool {
 public:
  // threads = total threads including the caller; 0 means hardware_concurrency().
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const;
  // fn(begin, end) over chunks of [0, n); each chunk a multiple of `grain` except the last.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);
  // Hint: no job is coming soon (e.g. a pipeline stage just passed its token on), so idle
  // workers should sleep now instead of spinning out their budget on a core that another
  // process (the next stage on the same machine) needs. The next parallel_for wakes them.
  void park();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton
