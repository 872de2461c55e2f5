#include "server/telemetry.h"

#include "proc/signal_name.h"

#include <optional>
#include <string>

#include "api/chat_id.h"
#include "api/route.h"
#include "base/log.h"
#include "sys/child.h"

namespace corral::server {
namespace {

std::optional<std::string_view> NonEmpty(std::string_view s) {
  return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
}

}  // namespace

void RecordRequest(api::Metrics& metrics, const RequestRecord& r) {
  metrics.RequestAnswered(r.route, r.status, r.duration);
  if (!base::LogEnabled(base::LogLevel::kInfo)) return;
  const std::string chat = r.chat.empty() ? std::string() : api::ParseChatId(r.chat);
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  base::Log(base::LogLevel::kInfo, "request",
            {{"method", r.method},
             {"route", r.route.empty() ? api::Metrics::kUnmatchedRoute : r.route},
             {"status", r.status},
             {"duration_ms", ms},
             {"chat", NonEmpty(chat)}});
}

std::string_view RouteOf(std::string_view method, std::string_view target) {
  if (target.empty()) return {};
  return api::ParseRoute(method, target).name;
}

void ObserveProcesses(proc::TableOptions& options, api::Metrics& metrics, bool log_commands) {
  options.on_start = [&metrics, log_commands](const proc::Process& p) {
    metrics.ProcessStarted();
    if (!base::LogEnabled(base::LogLevel::kInfo)) return;
    const auto chat = NonEmpty(p.chat_id());
    if (log_commands) {
      base::Log(base::LogLevel::kInfo, "process started",
                {{"event", "process_start"},
                 {"id", p.id()},
                 {"chat", chat},
                 {"workdir", p.workdir()},
                 {"command", p.command()}});
    } else {
      base::Log(
          base::LogLevel::kInfo, "process started",
          {{"event", "process_start"}, {"id", p.id()}, {"chat", chat}, {"workdir", p.workdir()}});
    }
  };
  options.on_done = [&metrics](const proc::Process& p) {
    const std::string_view ended_by =
        proc::EndedByName(p.ended_by().value_or(proc::EndedBy::kExit));
    metrics.ProcessDone(ended_by);
    if (!base::LogEnabled(base::LogLevel::kInfo)) return;
    const auto& exit = p.exit_status();
    std::optional<std::int64_t> code;
    std::string signal;
    if (exit) {
      code = exit->signaled ? -1 : exit->code;
      if (exit->signaled) signal = proc::SignalName(exit->signal);
    }
    base::Log(base::LogLevel::kInfo, "process done",
              {{"event", "process_done"},
               {"id", p.id()},
               {"exit_code", code},
               {"exit_signal", NonEmpty(signal)},
               {"ended_by", ended_by}});
  };
}

}  // namespace corral::server
