#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proc/output_buffer.h"

// The clean view of output (DESIGN §7.3, `view=clean`): what a terminal would leave on screen,
// roughly, as plain text a language model can read.
//
// Over a stretch of raw output:
// - Escape sequences are removed: CSI (ESC [ params intermediates final 0x40-0x7E), string
//   sequences (ESC ] OSC, ESC P DCS, ESC X, ESC ^, ESC _: up to BEL or ESC \), nF sequences
//   (ESC, bytes 0x20-0x2F, a final 0x30-0x7E, e.g. ESC ( B) and single-character escapes
//   (ESC 0x30-0x7E). A sequence broken by a byte it cannot hold (a CSI by a control or non-ASCII
//   byte; a string sequence by CR or LF), or longer than kMaxEscapeBytes, ends there: what was
//   read of it is removed and the byte is read as text. An ESC before anything else is removed
//   alone. C1 controls are not interpreted (a UTF-8 terminal rarely does).
// - Other control bytes (C0 but tab, LF and CR; DEL) are removed.
// - CR LF is LF, and each line keeps only its last frame: the text after its last CR that has
//   text after it (so "50%\r100%\r\n" is "100%\n", a progress bar's final state).
// - A line longer than kCleanMaxLineBytes keeps its first and last kCleanKeepBytes bytes
//   (fewer when that would split a character) around " ... [N bytes cut] ... ", N the exact
//   count of bytes of the line's clean text left out.
// - The text is valid UTF-8: invalid bytes become U+FFFD (one per maximal invalid subpart, as
//   in §3); lengths are counted in the clean text, after that replacement.
namespace corral::proc {

inline constexpr std::size_t kCleanMaxLineBytes = 2048;
inline constexpr std::size_t kCleanKeepBytes = 1000;
// The longest escape sequence honoured: a longer one is cut there (see above), so a reader
// never waits for more than this many bytes to finish one.
inline constexpr std::size_t kMaxEscapeBytes = 4096;

// What the long-line rule left out of a clean text.
struct CleanCuts {
  std::uint64_t lines = 0;  // lines cut in the middle
  std::uint64_t bytes = 0;  // bytes of clean text they lost (the sum of their N)
};

// The clean view of a whole output (or of all of it a caller has, treated as ended). Adds what
// the long-line rule cut to *cuts when given.
std::string CleanText(std::string_view raw, CleanCuts* cuts = nullptr);

// One cursor read's share of the clean view.
struct CleanCut {
  std::string text;          // valid UTF-8
  std::size_t consumed = 0;  // raw bytes it stands for: the next read's offset moves by it
};

// How many raw bytes to fetch for a clean read of `limit` bytes: enough for CleanRead to finish
// the escape sequence or character that straddles the limit.
constexpr std::size_t CleanFetchBytes(std::size_t limit) {
  return (limit == 0 ? 1 : limit) + kMaxEscapeBytes;
}

// The clean view of output read from a cursor, cut at a point where the next read can start
// without changing what the view says: never inside an escape sequence, a character, or a CR LF
// pair; and, when the first `limit` bytes hold a line end, right after the last one (so a line
// and all its CR frames are cleaned together). A line with no end within `limit` is cleaned in
// pieces (each piece's last frame is kept; a long line is cut per piece). It consumes at most
// `limit` bytes, but at least the first complete sequence, character or line end however long
// (a read makes progress whenever one exists). Unless `final`, a trailing escape sequence,
// character or CR that more bytes could change is left for a later read; the text of a line not
// ended yet is returned (a prompt shows at once).
//
// REQUIRES: raw holds the output from the read's offset on: CleanFetchBytes(limit) bytes, or all
// there are so far. `final`: nothing will ever follow raw (the output ended there, or the next
// byte was dropped: store::SpoolChunk::hole_after). The read's offset is at a point a previous
// cut ended at (or 0, or a gap's end: a cut there simply starts a new line).
CleanCut CleanRead(std::string_view raw, std::size_t limit, bool final);

// `output?view=clean`: Render (§3) with the clean view applied to what it shows. Head and
// tail are each cleaned as a whole (joined first when contiguous); a character split by the
// end of the head or the start of the tail goes with the omitted middle, as in Render; an escape
// sequence cut by the end of the head is removed, but the rest of one cut by the start of the
// tail cannot be told from text and shows. Long lines follow the clean rule (first and last
// kCleanKeepBytes), not §3's. truncation is set iff bytes were omitted or lines cut; its
// original_bytes and omitted_bytes are raw counts as in Render, lines_truncated the lines cut,
// and retained_bytes is original_bytes - omitted_bytes - the clean bytes the cuts left out
// (floored at 0: invalid bytes grow threefold as U+FFFD).
RenderedOutput RenderClean(const OutputBuffer& buffer);

}  // namespace corral::proc
