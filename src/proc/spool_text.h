#pragma once

#include <cstdint>

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

}  // namespace corral::proc
