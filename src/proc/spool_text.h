#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "proc/output_buffer.h"
#include "store/spool.h"

namespace corral::proc {

// The smallest spool bound whose kept head and ring always hold the bytes an OutputBuffer
// keeps, a crash included (the ring then loses a quarter of itself, see store::Spool): with it,
// a done process's `output` renders from its spool alone. Clamp --spool-max to at least this.
inline constexpr std::uint64_t kMinSpoolMaxForRender = 64 * 1024;

// The buffer of a done process, read back from its spool: the one the live buffer held, so
// Render answers byte for byte as it did. Errors: kFailedPrecondition when the spool does not
// hold those bytes (it failed, it was reopened damaged, or its bound is under
// kMinSpoolMaxForRender and the output outgrew it): keep the live buffer for such a process.
// kInternal when the file cannot be read.
base::Result<OutputBuffer> LoadOutputBuffer(const store::Spool& spool);

// The largest `limit` a read honours (DESIGN §7.2): larger ones are clamped to it.
inline constexpr std::size_t kMaxReadLimit = 1 << 20;

enum class View { kRaw, kClean };

// One cursor read (GET /{id}/read) from a spool.
struct OutputRead {
  std::string data;               // valid UTF-8 (the clean view with View::kClean)
  std::uint64_t offset = 0;       // where data starts: the requested offset, or past a gap
  std::uint64_t next_offset = 0;  // raw offset right after what data stands for
  std::optional<store::Gap> gap;  // {requested offset, offset} when bytes were skipped
  bool eof = false;               // ended, and no byte will ever come after next_offset
};

// Reads from `offset` up to `limit` raw bytes (clamped to kMaxReadLimit) of the spool's output
// as text: never ending inside a character (utf8::CutText) or, with View::kClean, at a point
// that would change the view (CleanRead). `ended`: the output is complete (the process is done
// and its pipe at end of file), so a trailing partial character becomes U+FFFD.
//
// A read inside a dropped range starts at the first kept byte and reports the gap; a read
// that meets the end of the head before a dropped middle ends there (the next read reports
// the gap). Reads of a failed spool past what it stored answer no data, next_offset total()
// and the gap; the caller reports spool.error() (`spool_error`). next_offset == offset with
// no gap means nothing new can be returned yet (a partial character or escape at the end):
// `wait=output` should keep waiting.
// Errors: kInvalidArgument "Invalid offset." when offset > spool.total(); kInternal when the
// file cannot be read.
base::Result<OutputRead> ReadOutput(const store::Spool& spool, std::uint64_t offset,
                                    std::size_t limit, bool ended, View view);

}  // namespace corral::proc
