// corral_load's `follow` mode (contract in load.h): many clients following one command's output
// live, over GET /{id}/stream, each an HTTP/1.1 client reading Server-Sent Events as an
// EventSource would, all on one thread.
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <functional>

#include "load.h"

namespace corral::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

// What the followers received, shared by all of them (one thread runs them all).
struct Receipts {
  // Lines written before this (CLOCK_REALTIME ns) are not samples: they were written while
  // followers were still attaching. Set by the main thread once every follower is attached.
  std::atomic<std::int64_t> measure_from{INT64_MAX};
  std::vector<double> latency_ms;
  int failed = 0;  // followers whose stream failed or did not start with a 200
  int ended = 0;   // followers whose stream ended with the `exit` event
  std::string first_error;
};

// One GET /{id}/stream: the SSE body is cut into events at blank lines; each `output` event's
// data holds lines of the writer's clock, each compared with ours on receipt.
class Follower : public std::enable_shared_from_this<Follower> {
 public:
  Follower(asio::io_context& ioc, std::string target, Receipts& receipts)
      : stream_(ioc), request_(http::verb::get, target, 11), receipts_(receipts) {
    request_.set(http::field::host, "localhost");
    request_.set(http::field::accept, "text/event-stream");
    parser_.body_limit(boost::none);
    // The parser keeps a reference to the callback: it lives as long as the parser.
    on_body_ = [this](std::uint64_t, std::string_view body, beast::error_code&) {
      OnBody(body);
      return body.size();
    };
    parser_.on_chunk_body(on_body_);
  }

  void Start(const tcp::endpoint& server) {
    stream_.async_connect(server, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Fail("connect: " + ec.message());
      http::async_write(self->stream_, self->request_, [self](beast::error_code ec, std::size_t) {
        if (ec) return self->Fail("write: " + ec.message());
        self->ReadHeader();
      });
    });
  }

 private:
  void ReadHeader() {
    http::async_read_header(
        stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->Fail("header: " + ec.message());
          if (self->parser_.get().result() != http::status::ok) {
            return self->Fail("status " + std::to_string(self->parser_.get().result_int()));
          }
          self->ReadBody();
        });
  }

  void ReadBody() {
    http::async_read_some(stream_, buffer_, parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec) return self->Fail("body: " + ec.message());
                            if (!self->parser_.is_done()) return self->ReadBody();
                            if (!self->saw_exit_) self->Fail("the stream ended without `exit`");
                          });
  }

  void OnBody(std::string_view body) {
    const std::int64_t now = RealtimeNs();
    pending_.append(body);
    std::size_t start = 0;
    for (std::size_t end; (end = pending_.find("\n\n", start)) != std::string::npos;
         start = end + 2) {
      OnEvent(std::string_view(pending_).substr(start, end - start), now);
    }
    pending_.erase(0, start);
  }

  void OnEvent(std::string_view event, std::int64_t now) {
    if (event.find("event: exit") != std::string_view::npos) {
      saw_exit_ = true;
      ++receipts_.ended;
      return;
    }
    const std::size_t data = event.find("data: ");
    if (event.find("event: output") == std::string_view::npos || data == std::string_view::npos) {
      return;  // a keep-alive comment
    }
    const std::size_t line_end = event.find('\n', data);
    const json::value payload = json::parse(event.substr(data + 6, line_end - data - 6));
    const std::string_view text = payload.at("data").as_string();
    const std::int64_t from = receipts_.measure_from.load();
    for (std::size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string_view::npos;
         pos = nl + 1) {
      const std::int64_t written = std::stoll(std::string(text.substr(pos, nl - pos)));
      if (written >= from) receipts_.latency_ms.push_back((now - written) / 1e6);
    }
  }

  void Fail(const std::string& why) {
    ++receipts_.failed;
    if (receipts_.first_error.empty()) receipts_.first_error = why;
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> on_body_;
  http::response_parser<http::empty_body> parser_;
  Receipts& receipts_;
  std::string pending_;  // the start of an event not complete yet
  bool saw_exit_ = false;
};

// The CPU time this process (every thread) used so far, in seconds.
double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

tcp::endpoint EndpointOf(const std::string& server) {
  auto endpoint = client::ParseEndpoint(server);
  if (!endpoint.ok() || endpoint->is_unix) Die("a TCP server is needed: " + server);
  return {asio::ip::make_address(endpoint->host),
          static_cast<unsigned short>(std::stoi(endpoint->port))};
}

// The server's memory as far as followers can cost it: its anonymous RSS. (Its file-backed RSS
// grows once, by the code that serving the first stream faults in, whatever the followers.)
long AnonKb(int pid) { return StatusKb(pid, "RssAnon"); }

// Samples AnonKb every 20 ms while `body` runs; returns the highest seen.
long PeakRssDuring(int pid, const std::function<void()>& body) {
  std::atomic<bool> done{false};
  std::atomic<long> peak{AnonKb(pid)};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak.load(), AnonKb(pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  try {
    body();
  } catch (...) {
    done = true;
    sampler.join();
    throw;
  }
  done = true;
  sampler.join();
  return peak;
}

}  // namespace

json::object Follow(const LoadArgs& a) {
  if (a.followers < 1) Die("--followers must be at least 1");
  auto http_client = Connect(a.server);
  client::CorralClient api(*http_client);
  const std::int64_t waiters_before = Health(*http_client, "waiters");
  const std::string id =
      StartOrDie(api, "exec " + a.helper + " tick " + std::to_string(a.interval_ms) + " 600");
  // Let it start (and the server settle) before the memory baseline.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const long rss_before = AnonKb(a.pid);
  json::object result;

  if (a.kind == "wait") {
    std::vector<int> fds;
    for (int i = 0; i < a.followers; ++i) {
      fds.push_back(OpenHeldRequest(a.server, "/api/v0/processes/" + id + "/output?wait=true"));
    }
    WaitForWaiters(*http_client, waiters_before + a.followers);
    const long rss_attached = AnonKb(a.pid);
    for (int fd : fds) close(fd);
    (void)api.Signal(id, "kill");  // the server ends it at exit anyway
    result = {{"rss_before_kb", rss_before},
              {"rss_attached_kb", rss_attached},
              {"rss_peak_kb", rss_attached}};
  } else {
    asio::io_context ioc;
    Receipts receipts;
    const tcp::endpoint server = EndpointOf(a.server);
    for (int i = 0; i < a.followers; ++i) {
      auto follower =
          std::make_shared<Follower>(ioc, "/api/v0/processes/" + id + "/stream", receipts);
      follower->Start(server);
    }
    std::thread io([&] {
      try {
        ioc.run();
      } catch (const std::exception& e) {  // an answer that is not what it should be
        ++receipts.failed;
        receipts.first_error = e.what();
      }
    });
    long rss_attached = 0;
    double cpu_seconds = 0, own_cpu_seconds = 0;
    const long rss_peak = PeakRssDuring(a.pid, [&] {
      try {
        WaitForWaiters(*http_client, waiters_before + a.followers);
      } catch (...) {
        ioc.stop();  // the measurement is abandoned: so are the streams
        io.join();
        throw;
      }
      rss_attached = AnonKb(a.pid);
      receipts.measure_from = RealtimeNs();
      const long ticks0 = CpuTicks(a.pid);
      const double own0 = OwnCpuSeconds();
      std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
      cpu_seconds = static_cast<double>(CpuTicks(a.pid) - ticks0) / sysconf(_SC_CLK_TCK);
      own_cpu_seconds = OwnCpuSeconds() - own0;
      // Kill ends the command; each stream then gets `exit` and is closed by the server.
      auto killed = api.Signal(id, "kill");
      if (!killed.ok()) ioc.stop();  // no `exit` will come to end the streams
      io.join();
      if (!killed.ok()) Die("kill: " + killed.status().message());
    });
    if (receipts.failed > 0) {
      Die(std::to_string(receipts.failed) + " followers failed, first: " + receipts.first_error);
    }
    if (receipts.ended != a.followers) Die("not every stream ended with `exit`");
    const double expected = a.followers * (a.seconds * 1000 / a.interval_ms);
    if (receipts.latency_ms.size() < 0.9 * expected) {
      Die("too few lines received: " + std::to_string(receipts.latency_ms.size()) + " of about " +
          std::to_string(static_cast<long>(expected)));
    }
    result = {{"latency_ms", P50P99(receipts.latency_ms)},
              {"latency_max_ms", Percentile(receipts.latency_ms, 1.0)},
              {"samples", receipts.latency_ms.size()},
              {"server_cpu_us_per_line", 1e6 * cpu_seconds / receipts.latency_ms.size()},
              {"followers_cpu_us_per_line", 1e6 * own_cpu_seconds / receipts.latency_ms.size()},
              {"rss_before_kb", rss_before},
              {"rss_attached_kb", rss_attached},
              {"rss_peak_kb", rss_peak}};
  }
  const long peak = result.at("rss_peak_kb").as_int64();
  result["per_follower_kb"] = static_cast<double>(peak - rss_before) / a.followers;
  result["followers"] = a.followers;
  return result;
}

}  // namespace corral::bench
