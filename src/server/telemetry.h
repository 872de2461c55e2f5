#pragma once

#include <chrono>
#include <string_view>

#include "api/metrics.h"
#include "proc/process.h"
#include "proc/process_table.h"

namespace corral::server {

// One answered (or refused) request, as metrics and the log see it.
struct RequestRecord {
  std::string_view method;
  std::string_view route;  // the route template; empty when none matched
  int status = 0;
  std::chrono::steady_clock::duration duration{};
  std::string_view chat;  // the raw Coder-Chat-Id header; logged only when it is a chat UUID
};

// Counts the request in `metrics` and writes its log line (info level).
void RecordRequest(api::Metrics& metrics, const RequestRecord& record);

// The route template of a request the router did not see (refused before it): from its method
// and target, which may be empty when the request could not be parsed.
std::string_view RouteOf(std::string_view method, std::string_view target);

// Sets the table's on_start and on_done hooks to count processes in `metrics` and log their
// events; command text is logged only if `log_commands` (it may hold secrets). REQUIRES:
// `metrics` outlives the table.
void ObserveProcesses(proc::TableOptions& options, api::Metrics& metrics, bool log_commands);

}  // namespace corral::server
