#include "proc/process.h"

namespace corral::proc {

std::string_view EndedByName(EndedBy e) {
  switch (e) {
    case EndedBy::kExit:
      return "exit";
    case EndedBy::kSignal:
      return "signal";
    case EndedBy::kClient:
      return "client";
    case EndedBy::kDeadline:
      return "deadline";
    case EndedBy::kShutdown:
      return "shutdown";
    case EndedBy::kLost:
      return "lost";
  }
  return "exit";
}

std::optional<EndedBy> Process::ended_by() const {
  if (!done_) return std::nullopt;
  if (requested_end_) return requested_end_;
  return exit_ && exit_->signaled ? EndedBy::kSignal : EndedBy::kExit;
}

}  // namespace corral::proc
