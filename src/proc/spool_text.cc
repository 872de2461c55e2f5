#include "proc/spool_text.h"

#include <algorithm>
#include <string>

namespace corral::proc {

base::Result<OutputBuffer> LoadOutputBuffer(const store::Spool& spool) {
  const std::uint64_t total = spool.total();
  const std::uint64_t head_size = std::min<std::uint64_t>(total, kHeadBytes);
  const std::uint64_t tail_from =
      std::max(head_size, total - std::min<std::uint64_t>(total, kTailBytes));
  const std::uint64_t from[2] = {0, tail_from};
  const std::uint64_t size[2] = {head_size, total - tail_from};
  std::string parts[2];
  for (int i = 0; i < 2; ++i) {
    // A range may take two reads when it runs from the spool's head into its ring.
    while (parts[i].size() < size[i]) {
      const std::uint64_t at = from[i] + parts[i].size();
      auto chunk = spool.Read(at, static_cast<std::size_t>(size[i] - parts[i].size()));
      if (!chunk.ok()) return chunk.status();
      if (chunk->gap || chunk->bytes.empty()) {
        return base::Status(base::Code::kFailedPrecondition,
                            "the spool no longer holds output byte " + std::to_string(at));
      }
      parts[i] += chunk->bytes;
    }
  }
  return OutputBuffer::FromParts(parts[0], parts[1], total);
}

}  // namespace corral::proc
