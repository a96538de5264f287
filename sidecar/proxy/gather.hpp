#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mca::sidecar {

// Runs `tasks` at once on the caller's executor and returns their results
// in order, when the last has finished: the slowest bounds the wait, and
// each task bounds itself (every request it makes has a deadline). The
// tasks must own what they use (take their arguments by value): they may
// outlive a caller that is torn down first.
template <class T>
boost::asio::awaitable<std::vector<T>> gather(
    std::vector<boost::asio::awaitable<T>> tasks) {
  namespace asio = boost::asio;
  struct state {
    explicit state(const asio::any_io_executor& ex) : done(ex) {}
    std::vector<T> results;
    std::size_t remaining = 0;
    asio::steady_timer done;
  };
  auto executor = co_await asio::this_coro::executor;
  auto s = std::make_shared<state>(executor);
  s->results.resize(tasks.size());
  s->remaining = tasks.size();
  s->done.expires_at(asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    asio::co_spawn(
        executor,
        [s, i, task = std::move(tasks[i])]() mutable -> asio::awaitable<void> {
          s->results[i] = co_await std::move(task);
          if (--s->remaining == 0) s->done.cancel();
        },
        asio::detached);
  }
  if (s->remaining > 0) {
    co_await s->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return std::move(s->results);
}

}  // namespace mca::sidecar
