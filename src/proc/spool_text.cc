#include "proc/spool_text.h"

#include <algorithm>
#include <string>

#include "proc/clean_view.h"
#include "proc/utf8.h"

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

base::Result<OutputRead> ReadOutput(const store::Spool& spool, std::uint64_t offset,
                                    std::size_t limit, bool ended, View view) {
  limit = std::min(limit, kMaxReadLimit);
  const std::size_t fetch =
      view == View::kClean ? CleanFetchBytes(limit) : utf8::CutFetchBytes(limit);
  auto chunk = spool.Read(offset, fetch);
  if (!chunk.ok()) return chunk.status();
  OutputRead read;
  read.offset = chunk->offset;
  read.gap = chunk->gap;
  // Nothing will complete what the chunk ends with: the output ended there, or was dropped.
  const bool final =
      chunk->hole_after || (ended && chunk->offset + chunk->bytes.size() == spool.total());
  std::size_t consumed = 0;
  if (view == View::kClean) {
    CleanCut cut = CleanRead(chunk->bytes, limit, final);
    read.data = std::move(cut.text);
    consumed = cut.consumed;
  } else {
    utf8::Cut cut = utf8::CutText(chunk->bytes, limit, final);
    read.data = std::move(cut.text);
    consumed = cut.consumed;
  }
  read.next_offset = read.offset + consumed;
  read.eof = ended && read.next_offset == spool.total();
  return read;
}

}  // namespace corral::proc
