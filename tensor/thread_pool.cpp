#include "tensor/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace baton {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// How long an idle worker (or a caller waiting for stragglers) spins before blocking.
// A decode step issues hundreds of parallel_for calls a few microseconds apart; spinning
// across those gaps avoids a futex wake-up (tens of microseconds) per call, while longer
// pauses (between tokens, idle server) still put the threads to sleep.
constexpr auto kSpinBudget = std::chrono::microseconds(200);

// The job ticket packs everything a worker needs to claim work into one atomic word, so a
// worker that wakes late can never claim a chunk of a job other than the one it read:
// [63..32] job generation, [31..16] chunk count, [15..0] next unclaimed chunk.
constexpr unsigned kMaxChunks = 0xffff;
constexpr uint64_t make_ticket(uint64_t gen, uint64_t chunks, uint64_t next) {
  return (gen << 32) | (chunks << 16) | next;
}
constexpr uint32_t ticket_chunks(uint64_t t) { return uint32_t(t >> 16) & 0xffff; }
constexpr uint32_t ticket_next(uint64_t t) { return uint32_t(t) & 0xffff; }
constexpr uint64_t ticket_gen(uint64_t t) { return t >> 32; }

// Set while a thread runs a chunk, so a nested parallel_for on the same pool runs inline
// instead of overwriting the job the outer call is still executing.
thread_local const void* tls_running_pool = nullptr;

}  // namespace

struct ThreadPool::Impl {
  unsigned threads = 1;
  std::vector<std::thread> workers;

  // Job description, written by the submitting thread before the ticket is published and
  // read by workers only after they claimed a chunk (so it is stable while they use it).
  const std::function<void(size_t, size_t)>* fn = nullptr;
  size_t n = 0;
  size_t chunk = 0;

  std::atomic<uint64_t> ticket{0};
  std::atomic<uint32_t> done{0};
  std::atomic<unsigned> sleepers{0};
  std::atomic<bool> caller_sleeping{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> parked{false};  // park(): skip the spin and sleep at once

  std::mutex mutex;               // guards the condition variables' predicates
  std::condition_variable wake;   // workers wait here for a new ticket
  std::condition_variable finished;  // the caller waits here for the last chunk
  std::mutex submit;              // one job at a time per pool

  std::mutex error_mutex;
  std::exception_ptr error;

  // Claims and runs chunks of the job described by `seen`; returns when none are left.
  void run_chunks(uint64_t seen) {
    while (ticket_next(seen) < ticket_chunks(seen)) {
      if (!ticket.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        continue;  // `seen` now holds the current ticket (maybe of a newer job): re-check.
      }
      const size_t index = ticket_next(seen);
      const size_t begin = index * chunk;
      const size_t end = std::min(n, begin + chunk);
      const void* outer = tls_running_pool;
      tls_running_pool = this;
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      tls_running_pool = outer;
      // seq_cst pairs with the caller's store to caller_sleeping (store-load handshake).
      const uint32_t finished_now = done.fetch_add(1, std::memory_order_seq_cst) + 1;
      if (finished_now == ticket_chunks(seen) && caller_sleeping.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mutex);
        finished.notify_one();
      }
      seen = ticket.load(std::memory_order_acquire);
    }
  }

  void worker_loop() {
    uint64_t seen = ticket.load(std::memory_order_acquire);
    for (;;) {
      run_chunks(seen);
      // Wait for a ticket different from the exhausted one: spin first, then sleep.
      const uint64_t exhausted = seen;
      const auto spin_start = std::chrono::steady_clock::now();
      unsigned spins = 0;
      for (;;) {
        seen = ticket.load(std::memory_order_acquire);
        if (seen != exhausted || stop.load(std::memory_order_relaxed)) break;
        cpu_relax();
        if (parked.load(std::memory_order_relaxed) ||
            ((++spins & 63) == 0 && std::chrono::steady_clock::now() - spin_start > kSpinBudget)) {
          sleepers.fetch_add(1, std::memory_order_seq_cst);
          std::unique_lock<std::mutex> lock(mutex);
          wake.wait(lock, [&] {
            return ticket.load(std::memory_order_seq_cst) != exhausted || stop.load(std::memory_order_seq_cst);
          });
          sleepers.fetch_sub(1, std::memory_order_seq_cst);
          spins = 0;
        }
      }
      if (stop.load(std::memory_order_acquire)) return;
    }
  }

  void wait_all_done(uint32_t chunks) {
    const auto spin_start = std::chrono::steady_clock::now();
    unsigned spins = 0;
    while (done.load(std::memory_order_acquire) != chunks) {
      cpu_relax();
      if ((++spins & 63) == 0 && std::chrono::steady_clock::now() - spin_start > kSpinBudget) {
        // A worker was descheduled mid-chunk: stop burning the core it may need.
        caller_sleeping.store(true, std::memory_order_seq_cst);
        std::unique_lock<std::mutex> lock(mutex);
        finished.wait(lock, [&] { return done.load(std::memory_order_seq_cst) == chunks; });
        caller_sleeping.store(false, std::memory_order_relaxed);
        return;
      }
    }
  }
};

ThreadPool::ThreadPool(unsigned threads) : impl_(std::make_unique<Impl>()) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  impl_->threads = threads;
  impl_->workers.reserve(threads - 1);
  for (unsigned i = 1; i < threads; ++i) {
    impl_->workers.emplace_back([impl = impl_.get()] { impl->worker_loop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop.store(true, std::memory_order_seq_cst);
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->workers) t.join();
}

unsigned ThreadPool::size() const { return impl_->threads; }

void ThreadPool::park() { impl_->parked.store(true, std::memory_order_relaxed); }

void ThreadPool::parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  Impl& p = *impl_;
  const size_t grains = (n + grain - 1) / grain;
  if (p.workers.empty() || grains == 1 || tls_running_pool == &p) {
    fn(0, n);
    return;
  }
  p.parked.store(false, std::memory_order_relaxed);  // jobs are flowing again: spin between them
  // A few chunks per thread balance load when a core is busy with something else,
  // without paying a claim per grain.
  const size_t target_chunks = std::min<size_t>({grains, size_t(p.threads) * 4, kMaxChunks});
  const size_t grains_per_chunk = (grains + target_chunks - 1) / target_chunks;
  const size_t chunk = grains_per_chunk * grain;
  const uint32_t chunks = static_cast<uint32_t>((n + chunk - 1) / chunk);

  std::lock_guard<std::mutex> submit_lock(p.submit);
  p.fn = &fn;
  p.n = n;
  p.chunk = chunk;
  p.done.store(0, std::memory_order_relaxed);
  const uint64_t gen = ticket_gen(p.ticket.load(std::memory_order_relaxed)) + 1;
  const uint64_t fresh = make_ticket(gen, chunks, 0);
  p.ticket.store(fresh, std::memory_order_seq_cst);
  if (p.sleepers.load(std::memory_order_seq_cst) > 0) {
    // Taking the mutex orders this notify after any sleeper's predicate check.
    { std::lock_guard<std::mutex> lock(p.mutex); }
    p.wake.notify_all();
  }
  p.run_chunks(fresh);
  p.wait_all_done(chunks);
  if (p.error) {
    std::exception_ptr e;
    std::swap(e, p.error);
    std::rethrow_exception(e);
  }
}

}  // namespace baton
