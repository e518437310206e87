// Runs a long, blocking computation (hashing a model file) on a thread of its own and
// resolves on the calling event loop, so the loop keeps answering pings and publishing
// heartbeats meanwhile. The thread is owned by the promise: joined when the result is in,
// or, if the promise is dropped first, when the computation ends.
#pragma once

#include <kj/async.h>

#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace baton {

// `work` returns T and must not throw (report failures in T).
template <typename T, typename Work>
kj::Promise<T> run_on_own_thread(Work work) {
  struct Job {
    std::thread thread;
    ~Job() {
      if (thread.joinable()) thread.join();
    }
  };
  auto paf = kj::newPromiseAndCrossThreadFulfiller<T>();
  auto job = kj::heap<Job>();
  // Held by shared_ptr: kj::Own's destructor may throw, which std::thread's state may not.
  auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<T>>>(kj::mv(paf.fulfiller));
  job->thread = std::thread([fulfiller, work = std::move(work)]() mutable { (*fulfiller)->fulfill(work()); });
  return paf.promise.attach(kj::mv(job));
}

}  // namespace baton
