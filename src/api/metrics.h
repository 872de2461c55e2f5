#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral::api {

// A Prometheus histogram over fixed upper bounds, in seconds.
class Histogram {
 public:
  // REQUIRES: `bounds` ascending and alive as long as the histogram.
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size()) {}

  void Observe(double seconds);
  // Appends the _bucket (cumulative, with le="+Inf"), _sum and _count samples of `name`;
  // `labels` is empty or a label list without braces (route="/x").
  void Write(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::span<const double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// What the metrics read from elsewhere when they are rendered: values the table and the server
// keep anyway.
struct MetricsGauges {
  std::size_t running = 0;
  std::size_t waiters = 0;  // every held request
  std::size_t connections = 0;
  std::uint64_t output_bytes = 0;
  std::uint64_t spool_bytes = 0;
};

// The counters and histograms of DESIGN.md §7.7, from zero at each run, and their Prometheus
// text exposition (version 0.0.4). Single-threaded: every call on the loop thread.
class Metrics {
 public:
  // Every `ended_by` value, each exported from the start (at 0).
  static constexpr std::array<std::string_view, 6> kEndedBy = {"exit",     "signal",   "client",
                                                               "deadline", "shutdown", "lost"};
  // The label of a request that matched no route (never the raw path: it is unbounded).
  static constexpr std::string_view kUnmatchedRoute = "unmatched";
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  Metrics();

  void ProcessStarted() { ++started_; }
  // `ended_by` one of kEndedBy; anything else is counted as "exit".
  void ProcessDone(std::string_view ended_by);
  void SpawnTook(std::chrono::steady_clock::duration d);
  // `route` a route template, or empty for none; it must outlive the metrics (templates are
  // static strings).
  void RequestAnswered(std::string_view route, int status, std::chrono::steady_clock::duration d);

  std::uint64_t started() const { return started_; }

  std::string Render(const MetricsGauges& gauges) const;

 private:
  std::uint64_t started_ = 0;
  std::array<std::uint64_t, kEndedBy.size()> done_{};
  Histogram spawn_;
  std::map<std::pair<std::string_view, int>, std::uint64_t> requests_;
  std::map<std::string_view, Histogram> durations_;
};

}  // namespace corral::api
