#include "proc/process.h"

#include "proc/clean_view.h"

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

std::string_view StdinName(sys::StdinMode mode) {
  switch (mode) {
    case sys::StdinMode::kNull:
      return "null";
    case sys::StdinMode::kPipe:
      return "pipe";
    case sys::StdinMode::kTty:
      return "tty";
  }
  return "null";
}

std::optional<EndedBy> Process::ended_by() const {
  if (!done_) return std::nullopt;
  if (requested_end_) return requested_end_;
  return exit_ && exit_->signaled ? EndedBy::kSignal : EndedBy::kExit;
}

std::string Process::spool_error() const {
  if (!spool_error_.empty()) return spool_error_;
  return spool_ ? spool_->error() : std::string();
}

std::shared_ptr<const store::Spool> Process::spool() const {
  if (spool_) return spool_;
  if (spool_dir_.empty()) return nullptr;
  return store::Spool::Open(spool_dir_, id_);
}

base::Result<RenderedOutput> Process::RenderOutput(View view) const {
  if (!buffer_in_spool_) return view == View::kClean ? RenderClean(output_) : Render(output_);
  auto spool = this->spool();
  auto buffer = LoadOutputBuffer(*spool);
  // A spool file removed or damaged since: what is left of the output is nothing.
  if (!buffer.ok()) buffer = OutputBuffer();
  return view == View::kClean ? RenderClean(*buffer) : Render(*buffer);
}

}  // namespace corral::proc
