#include "api/metrics.h"

#include <charconv>
#include <cstdio>

namespace corral::api {
namespace {

// Request latency: from a cached list answer (tens of microseconds) to a `?wait` held for its
// whole 5 minutes.
constexpr double kRequestBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                     5,      10,      30,     60,    300};
// Spawn latency: posix_spawn is a fraction of a millisecond; cgroup moves can take tens.
constexpr double kSpawnBounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                   0.01,    0.025,  0.05,    0.1,    0.25,  1};

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void AppendNumber(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendNumber(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <typename Number>
void Sample(std::string& out, std::string_view name, std::string_view labels, Number v) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ");
  AppendNumber(out, v);
  out.append("\n");
}

// A label value as the exposition format quotes it. Route templates and ended_by values are
// plain, but the format's escapes cost nothing to honour.
std::string Label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

void Histogram::Observe(double seconds) {
  std::size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  if (i < counts_.size()) ++counts_[i];
  ++count_;
  sum_ += seconds;
}

void Histogram::Write(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string bucket = std::string(name) + "_bucket";
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  char le[32];
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    auto r = std::to_chars(le, le + sizeof le, bounds_[i]);
    Sample(out, bucket, prefix + Label("le", std::string_view(le, r.ptr - le)), cumulative);
  }
  Sample(out, bucket, prefix + Label("le", "+Inf"), count_);
  Sample(out, std::string(name) + "_sum", labels, sum_);
  Sample(out, std::string(name) + "_count", labels, count_);
}

Metrics::Metrics() : spawn_(kSpawnBounds) {}

void Metrics::ProcessDone(std::string_view ended_by) {
  std::size_t i = 0;
  while (i < kEndedBy.size() && kEndedBy[i] != ended_by) ++i;
  ++done_[i < kEndedBy.size() ? i : 0];
}

void Metrics::SpawnTook(std::chrono::steady_clock::duration d) { spawn_.Observe(Seconds(d)); }

void Metrics::RequestAnswered(std::string_view route, int status,
                              std::chrono::steady_clock::duration d) {
  if (route.empty()) route = kUnmatchedRoute;
  ++requests_[{route, status}];
  auto it = durations_.find(route);
  if (it == durations_.end()) it = durations_.emplace(route, Histogram(kRequestBounds)).first;
  it->second.Observe(Seconds(d));
}

std::string Metrics::Render(const MetricsGauges& g) const {
  std::string out;
  out.reserve(4096 + durations_.size() * 2048);
  Header(out, "corral_processes_started_total", "counter", "Processes started.");
  Sample(out, "corral_processes_started_total", "", started_);
  Header(out, "corral_processes_done_total", "counter",
         "Processes done, by what ended them (ended_by).");
  for (std::size_t i = 0; i < kEndedBy.size(); ++i) {
    Sample(out, "corral_processes_done_total", Label("ended_by", kEndedBy[i]), done_[i]);
  }
  Header(out, "corral_processes_running", "gauge", "Processes not yet done.");
  Sample(out, "corral_processes_running", "", std::uint64_t{g.running});
  Header(out, "corral_waiters", "gauge", "Requests held open waiting for a process.");
  Sample(out, "corral_waiters", "", std::uint64_t{g.waiters});
  Header(out, "corral_connections", "gauge", "Open client connections, on every listener.");
  Sample(out, "corral_connections", "", std::uint64_t{g.connections});
  Header(out, "corral_http_requests_total", "counter",
         "HTTP requests answered, by route template and status (refused ones included).");
  for (const auto& [key, n] : requests_) {
    char status[8];
    std::snprintf(status, sizeof status, "%d", key.second);
    Sample(out, "corral_http_requests_total",
           Label("route", key.first) + "," + Label("status", status), n);
  }
  Header(out, "corral_http_request_duration_seconds", "histogram",
         "Time from a request's headers read to its answer written, by route template.");
  for (const auto& [route, h] : durations_) {
    h.Write(out, "corral_http_request_duration_seconds", Label("route", route));
  }
  Header(out, "corral_spawn_duration_seconds", "histogram", "Time to spawn a command.");
  spawn_.Write(out, "corral_spawn_duration_seconds", "");
  Header(out, "corral_output_bytes_total", "counter", "Output bytes read from commands.");
  Sample(out, "corral_output_bytes_total", "", g.output_bytes);
  Header(out, "corral_spool_bytes", "gauge", "Bytes of output spooled on disk.");
  Sample(out, "corral_spool_bytes", "", g.spool_bytes);
  return out;
}

}  // namespace corral::api
