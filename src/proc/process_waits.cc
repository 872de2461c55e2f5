// Waiting on many processes at once (DESIGN §7.5): each is the wait on one (WaitDone), run
// side by side for `any`, one after the other for `all`.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proc/process_table.h"

namespace corral::proc {
namespace asio = boost::asio;

asio::awaitable<void> ProcessTable::WaitDone(std::vector<std::shared_ptr<const Process>> processes,
                                             bool all) {
  const std::size_t asked = processes.size();
  std::erase_if(processes, [](const auto& p) { return !p->running(); });
  if (processes.empty() || (!all && processes.size() < asked)) co_return;
  auto count = HoldWaiter();
  if (all) {
    // Every one must end: waiting for each in turn takes as long as waiting for all at once.
    for (auto& p : processes) co_await WaitDone(std::move(p), false);
    co_return;
  }
  using Wait = decltype(asio::co_spawn(ex_, WaitDone(processes.front(), false), asio::deferred));
  std::vector<Wait> waits;
  waits.reserve(processes.size());
  for (auto& p : processes) {
    waits.push_back(asio::co_spawn(ex_, WaitDone(std::move(p), false), asio::deferred));
  }
  // The first to end cancels the others; a cancellation of this wait reaches each of them.
  co_await asio::experimental::make_parallel_group(std::move(waits))
      .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
}

}  // namespace corral::proc
