// Shutting down an Asio front end that runs its io_context on its own thread: the last
// work (cancel timers, say goodbye, close the socket) must run on that thread, then the
// loop stops and the thread is joined.
#pragma once

#include <functional>
#include <future>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

namespace baton::discovery {

inline void finish_on_io_thread(asio::io_context& io, std::thread& thread, const std::function<void()>& last_work) {
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(io, [&] {
    last_work();
    done.set_value();
  });
  finished.wait();
  io.stop();
  if (thread.joinable()) thread.join();
}

}  // namespace baton::discovery
