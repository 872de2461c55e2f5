#include "api/cursor.h"

#include <boost/json.hpp>

#include "proc/signal_name.h"

namespace corral::api {
namespace json = boost::json;

base::Result<proc::OutputRead> ReadProcessOutput(const proc::Process& p, std::uint64_t offset,
                                                 std::size_t limit, proc::View view) {
  if (offset > p.total_bytes()) {
    return base::Status(base::Code::kInvalidArgument, "Invalid offset.");
  }
  // The spool serves what it has (one removed or damaged since may have less than was written).
  if (auto spool = p.spool();
      spool && (offset < spool->total() || spool->total() == p.total_bytes())) {
    auto read = proc::ReadOutput(*spool, offset, limit, p.output_complete(), view);
    if (read.ok()) read->eof = read->eof && read->next_offset == p.total_bytes();
    return read;
  }
  proc::OutputRead read;
  read.offset = read.next_offset = p.total_bytes();
  if (offset < read.offset) read.gap = store::Gap{offset, read.offset};
  read.eof = p.output_complete();
  return read;
}

base::Result<StreamStep> NextStreamStep(const proc::Process& p, std::uint64_t* offset) {
  StreamStep step;
  // A growing output read from its end has nothing (no byte, no gap, no end) to send yet.
  const bool growing = !p.output_complete();
  if (growing && *offset == p.total_bytes()) return step;
  // Until the output grows, a read at this offset answers the same: the cached event is it.
  proc::Process::StreamEvent& cached = p.stream_event();
  if (growing && cached.text && cached.offset == *offset && cached.total == p.total_bytes()) {
    step.kind = StreamStep::Kind::kSend;
    step.text = cached.text;
    *offset = cached.next_offset;
    return step;
  }
  auto read = ReadProcessOutput(p, *offset, kStreamChunkBytes, proc::View::kRaw);
  if (!read.ok()) return read.status();
  if (read->next_offset > *offset || read->gap) {
    step.kind = StreamStep::Kind::kSend;
    step.text = std::make_shared<const std::string>(OutputEvent(*read));
    if (growing) cached = {*offset, p.total_bytes(), read->next_offset, step.text};
    *offset = read->next_offset;
  } else if (read->eof) {
    step.kind = StreamStep::Kind::kEnd;
    step.text = std::make_shared<const std::string>(ExitEvent(p));
  }
  return step;
}

std::string OutputEvent(const proc::OutputRead& read) {
  json::object data;
  data["offset"] = read.offset;
  data["data"] = read.data;
  return "id: " + std::to_string(read.next_offset) +
         "\nevent: output\ndata: " + json::serialize(data) + "\n\n";
}

std::string ExitEvent(const proc::Process& p) {
  json::object data;
  const auto& exit = p.exit_status();
  // As everywhere: a signalled shell reports -1 plus the signal's name.
  data["exit_code"] = !exit ? -1 : exit->signaled ? -1 : exit->code;
  if (exit && exit->signaled) data["exit_signal"] = proc::SignalName(exit->signal);
  if (auto ended_by = p.ended_by()) data["ended_by"] = proc::EndedByName(*ended_by);
  return "event: exit\ndata: " + json::serialize(data) + "\n\n";
}

std::string StateEvent(bool waiting_for_input) {
  json::object data;
  data["waiting_for_input"] = waiting_for_input;
  return "event: state\ndata: " + json::serialize(data) + "\n\n";
}

}  // namespace corral::api
