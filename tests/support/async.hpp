#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace mca::test {

// Runs one coroutine on `io` to completion (or throws after `limit`), so a
// test reads top to bottom while the code under test stays asynchronous.
template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> work,
           std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  std::optional<T> out;
  std::exception_ptr failure;
  bool done = false;
  boost::asio::co_spawn(io, std::move(work),
                        [&](const std::exception_ptr& e, T value) {
                          failure = e;
                          if (!e) out.emplace(std::move(value));
                          done = true;
                        });
  // Other coroutines (a watch, an informer) keep the context busy forever;
  // run only until this one is done.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(deadline - std::chrono::steady_clock::now());
  }
  if (failure) std::rethrow_exception(failure);
  if (!out) throw std::runtime_error("coroutine did not finish in time");
  return std::move(*out);
}

// Runs the io_context until `done()` holds or `limit` passes; returns done().
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred done,
               std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(20));
    io.restart();
  }
  return done();
}

}  // namespace mca::test
