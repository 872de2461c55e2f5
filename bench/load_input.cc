// corral_load's modes about commands that wait for input (contracts in load.h): how soon a
// waiting client learns that a command blocks on a read, and what measuring it costs `list`.
#include <boost/json.hpp>
#include <functional>
#include <future>
#include <random>

#include "load.h"

namespace corral::bench {
namespace {

namespace json = boost::json;
using client::CorralClient;
using client::ReadArgs;

// A read of `id` from `offset` waiting for `wait`, and when its answer arrived (CLOCK_REALTIME).
struct Answer {
  json::object body;
  std::int64_t received_ns = 0;
};

Answer ReadOrDie(CorralClient& api, const std::string& id, std::uint64_t offset,
                 ReadArgs::Wait wait) {
  ReadArgs args;
  args.offset = offset;
  args.wait = wait;
  args.timeout = std::chrono::seconds(10);
  args.idle = std::chrono::minutes(1);  // wait=idle ends on the input wait, not on quiet
  auto r = api.Read(id, args);
  const std::int64_t received = RealtimeNs();
  if (!r.ok()) Die("read: " + r.status().message());
  return {std::move(*r), received};
}

bool WaitingForInput(const json::object& o) {
  const json::value* v = o.if_contains("waiting_for_input");
  return v && v->is_bool() && v->as_bool();
}

// The last stamp line of a read's data (the helper's `prompt` writes one before each read).
std::int64_t LastStamp(const json::object& read) {
  std::string_view data = read.at("data").as_string();
  while (!data.empty() && data.back() == '\n') data.remove_suffix(1);
  const std::size_t from = data.rfind('\n');
  return std::stoll(std::string(data.substr(from == std::string_view::npos ? 0 : from + 1)));
}

// Polls `list?limit=n` (at most a minute) until `done(processes)` holds, or dies.
void ListUntil(CorralClient& api, int n, const char* what,
               const std::function<bool(const json::array&)>& done) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto list = api.List(n);
    if (!list.ok()) Die("list: " + list.status().message());
    if (done(list->at("processes").as_array())) return;
    if (Clock::now() > deadline) Die(std::string("the commands never were ") + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<double> TimeLists(CorralClient& api, int n, int samples) {
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    const auto t0 = Clock::now();
    auto list = api.List(n);
    ms.push_back(Seconds(Clock::now() - t0) * 1000);
    if (!list.ok()) Die("list: " + list.status().message());
    if (static_cast<int>(list->at("processes").as_array().size()) != n) Die("list is short");
  }
  return ms;
}

}  // namespace

json::object InputWait(const LoadArgs& a) {
  auto http = Connect(a.server);
  CorralClient api(*http);
  client::StartArgs start;
  start.command = "exec " + a.helper + " prompt";
  start.stdin_mode = "pipe";
  auto started = api.Start(start);
  if (!started.ok()) Die("start: " + started.status().message());
  const std::string id(started->at("id").as_string());
  // Two more clients, each holding one of the cycle's waits.
  auto idle_http = Connect(a.server);
  auto output_http = Connect(a.server);
  CorralClient idle_api(*idle_http), output_api(*output_http);

  Answer first = ReadOrDie(idle_api, id, 0, ReadArgs::Wait::kIdle);
  if (!WaitingForInput(first.body)) Die("the helper never waited for input");
  std::uint64_t offset = client::NextOffset(first.body);
  std::mt19937 random(42);
  std::uniform_int_distribution<int> delay_ms(20, 39);
  std::vector<double> waiting_ms, output_ms;
  for (int i = 0; i < a.samples; ++i) {
    // The helper reads this, sleeps that long (while both waits attach: a few milliseconds),
    // then stamps the time and blocks reading again. The delays vary so the blocks fall at
    // every phase of the server's poll.
    if (auto r = api.Input(id, std::to_string(delay_ms(random)) + "\n"); !r.ok()) {
      Die("input: " + r.status().message());
    }
    auto idle = std::async(std::launch::async,
                           [&] { return ReadOrDie(idle_api, id, offset, ReadArgs::Wait::kIdle); });
    auto output = std::async(std::launch::async, [&] {
      return ReadOrDie(output_api, id, offset, ReadArgs::Wait::kOutput);
    });
    const Answer waited = idle.get();
    const Answer printed = output.get();
    if (!WaitingForInput(waited.body)) Die("wait=idle ended without waiting_for_input");
    const std::int64_t stamp = LastStamp(waited.body);
    if (LastStamp(printed.body) != stamp) Die("the two reads saw different stamps");
    waiting_ms.push_back((waited.received_ns - stamp) / 1e6);
    output_ms.push_back((printed.received_ns - stamp) / 1e6);
    offset = client::NextOffset(waited.body);
  }
  (void)api.Input(id, "", true);  // end of file: the helper exits
  return {
      {"waiting_ms", P50P99(waiting_ms)}, {"output_ms", P50P99(output_ms)}, {"samples", a.samples}};
}

json::object InteractiveList(const LoadArgs& a) {
  auto http = Connect(a.server);
  CorralClient api(*http);
  std::vector<std::string> ids;
  for (int i = 0; i < a.processes; ++i) {
    client::StartArgs start;
    start.command = a.command;
    start.stdin_mode = "pipe";
    auto started = api.Start(start);
    if (!started.ok()) Die("start: " + started.status().message());
    ids.emplace_back(started->at("id").as_string());
  }
  ListUntil(api, a.processes, "all waiting for input", [](const json::array& ps) {
    for (const auto& p : ps) {
      if (!WaitingForInput(p.as_object())) return false;
    }
    return true;
  });
  const std::vector<double> running = TimeLists(api, a.processes, a.samples);
  for (const auto& id : ids) (void)api.Signal(id, "kill");
  ListUntil(api, a.processes, "all done", [](const json::array& ps) {
    for (const auto& p : ps) {
      if (p.as_object().at("running").as_bool()) return false;
    }
    return true;
  });
  const std::vector<double> done = TimeLists(api, a.processes, a.samples);
  return {{"running_list_ms", P50P99(running)}, {"done_list_ms", P50P99(done)}};
}

}  // namespace corral::bench
