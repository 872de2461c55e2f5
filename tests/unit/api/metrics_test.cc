#include "api/metrics.h"

#include <gtest/gtest.h>

namespace corral::api {
namespace {

using namespace std::chrono_literals;

TEST(Histogram, BucketsAreCumulativeWithInfSumAndCount) {
  static constexpr double kBounds[] = {0.001, 0.01, 0.1};
  Histogram h(kBounds);
  h.Observe(0.0005);
  h.Observe(0.001);  // on a bound: counted in that bucket (le is "less or equal")
  h.Observe(0.05);
  h.Observe(7);
  std::string out;
  h.Write(out, "x_seconds", R"(route="/r")");
  EXPECT_EQ(out,
            "x_seconds_bucket{route=\"/r\",le=\"0.001\"} 2\n"
            "x_seconds_bucket{route=\"/r\",le=\"0.01\"} 2\n"
            "x_seconds_bucket{route=\"/r\",le=\"0.1\"} 3\n"
            "x_seconds_bucket{route=\"/r\",le=\"+Inf\"} 4\n"
            "x_seconds_sum{route=\"/r\"} 7.0515\n"
            "x_seconds_count{route=\"/r\"} 4\n");
}

TEST(Metrics, ExportsEveryEndedByFromZero) {
  Metrics m;
  const std::string text = m.Render({});
  for (auto ended_by : Metrics::kEndedBy) {
    EXPECT_NE(
        text.find("corral_processes_done_total{ended_by=\"" + std::string(ended_by) + "\"} 0\n"),
        std::string::npos)
        << ended_by;
  }
  EXPECT_NE(text.find("# TYPE corral_http_request_duration_seconds histogram\n"),
            std::string::npos);
}

TEST(Metrics, CountsRequestsByRouteTemplateAndStatus) {
  Metrics m;
  m.RequestAnswered("/api/v0/processes/{id}/output", 200, 2ms);
  m.RequestAnswered("/api/v0/processes/{id}/output", 200, 3ms);
  m.RequestAnswered("/api/v0/processes/{id}/output", 404, 1ms);
  m.RequestAnswered("", 404, 1ms);
  m.ProcessStarted();
  m.ProcessDone("client");
  m.ProcessDone("no such reason");
  const std::string text = m.Render({.running = 2, .output_bytes = 42});
  EXPECT_NE(text.find("corral_http_requests_total{route=\"/api/v0/processes/{id}/output\","
                      "status=\"200\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("corral_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("corral_http_request_duration_seconds_count{route=\"/api/v0/processes/"
                      "{id}/output\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("corral_processes_started_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("corral_processes_done_total{ended_by=\"client\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("corral_processes_done_total{ended_by=\"exit\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("corral_processes_running 2\n"), std::string::npos);
  EXPECT_NE(text.find("corral_output_bytes_total 42\n"), std::string::npos);
}

}  // namespace
}  // namespace corral::api
