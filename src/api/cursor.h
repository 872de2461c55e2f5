#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "proc/process.h"
#include "proc/spool_text.h"

// Reading a process's output at a byte cursor (DESIGN §7.2): what `read` answers and what
// `stream` sends, apart from any waiting and I/O.
namespace corral::api {

// Up to `limit` raw bytes (clamped to proc::kMaxReadLimit) of the output from `offset`, as
// proc::ReadOutput reads them from the process's spool. A process without a spool (it could not
// be made, or was removed or damaged since) has nothing to read back: the answer skips to
// total_bytes() and reports the gap. Errors: kInvalidArgument "Invalid offset." past total_bytes();
// kInternal when the spool cannot be read.
base::Result<proc::OutputRead> ReadProcessOutput(const proc::Process& p, std::uint64_t offset,
                                                 std::size_t limit, proc::View view);

// Whether a read from `offset` has something for `wait=output`: a complete character (or clean
// text) beyond it, a gap, or the end of the output.
inline bool HasNews(const proc::OutputRead& read, std::uint64_t offset) {
  return read.next_offset > offset || read.gap.has_value() || read.eof;
}

// The most raw bytes one stream event carries.
inline constexpr std::size_t kStreamChunkBytes = 64 * 1024;
// Sent when a stream had nothing to send for a while, so proxies keep it open.
inline constexpr std::string_view kKeepAliveComment = ": keep-alive\n\n";

// What a stream sends next.
struct StreamStep {
  enum class Kind {
    kSend,  // send `text` (an output event), then ask again
    kWait,  // nothing to send yet: wait for output (ProcessTable::WaitOutput), then ask again
    kEnd,   // send `text` (the exit event), then close
  };
  Kind kind = Kind::kWait;
  std::shared_ptr<const std::string> text;  // null for kWait
};

// The next step of a stream whose cursor is at `*offset`: an `output` event of the next chunk
// (moving *offset past it), `exit` once the output is complete and read to its end, or wait.
// While the output may grow, the event read and encoded at an offset is kept on the process
// (Process::stream_event) until more output comes: the other followers at that offset send the
// same text without reading or encoding it again, so 1,000 followers of a command cost one read
// per chunk, not 1,000. A cursor at the end of a growing output waits without a read.
// Errors: those of ReadProcessOutput.
base::Result<StreamStep> NextStreamStep(const proc::Process& p, std::uint64_t* offset);

// The events themselves (Server-Sent Events framing).
std::string OutputEvent(const proc::OutputRead& read);
std::string ExitEvent(const proc::Process& p);
// `event: state` with `{"waiting_for_input": b}` (DESIGN §7.2).
std::string StateEvent(bool waiting_for_input);

}  // namespace corral::api
