#include "proc/clean_view.h"

#include <algorithm>

#include "proc/utf8.h"

namespace corral::proc {
namespace {

constexpr char kEsc = 0x1B;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

enum class Kind {
  kText,     // a character or an invalid run (one U+FFFD)
  kEscape,   // removed
  kControl,  // removed
  kCr,
  kLf,
  kIncomplete,  // cut short by the end of the input: more bytes may change what it is
};

struct Token {
  Kind kind;
  std::size_t length;
};

bool IsStringIntroducer(unsigned char c) {
  return c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_';
}

// The escape sequence at s[i] (s[i] is ESC). kIncomplete when s ends before it does.
Token Escape(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  const auto at = [&](std::size_t j) { return static_cast<unsigned char>(s[j]); };
  const auto cut = [&](std::size_t j) {  // ended at j, either by a foreign byte or by the bound
    return Token{Kind::kEscape, j - i};
  };
  if (i + 1 == n) return {Kind::kIncomplete, 1};
  const unsigned char kind = at(i + 1);
  std::size_t j = i + 2;
  if (kind == '[') {
    for (; j < n && j - i < kMaxEscapeBytes; ++j) {
      const unsigned char c = at(j);
      if (c >= 0x40 && c <= 0x7E) return {Kind::kEscape, j + 1 - i};
      if (c < 0x20 || c > 0x3F) return cut(j);
    }
    return j - i >= kMaxEscapeBytes ? cut(j) : Token{Kind::kIncomplete, j - i};
  }
  if (IsStringIntroducer(kind)) {
    for (; j < n && j - i < kMaxEscapeBytes; ++j) {
      const unsigned char c = at(j);
      if (c == 0x07) return {Kind::kEscape, j + 1 - i};
      if (c == '\r' || c == '\n') return cut(j);
      if (c == kEsc) {
        if (j + 1 == n) return {Kind::kIncomplete, j + 1 - i};
        return at(j + 1) == '\\' ? Token{Kind::kEscape, j + 2 - i} : cut(j);
      }
    }
    return j - i >= kMaxEscapeBytes ? cut(j) : Token{Kind::kIncomplete, j - i};
  }
  if (kind >= 0x20 && kind <= 0x2F) {
    for (j = i + 1; j < n && j - i < kMaxEscapeBytes; ++j) {
      const unsigned char c = at(j);
      if (c >= 0x30 && c <= 0x7E) return {Kind::kEscape, j + 1 - i};
      if (c < 0x20 || c > 0x2F) return cut(j);
    }
    return j - i >= kMaxEscapeBytes ? cut(j) : Token{Kind::kIncomplete, j - i};
  }
  if (kind >= 0x30 && kind <= 0x7E) return {Kind::kEscape, 2};
  return {Kind::kEscape, 1};  // a lone ESC
}

Token Next(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == '\n') return {Kind::kLf, 1};
  if (c == '\r') return {Kind::kCr, 1};
  if (c == kEsc) return Escape(s, i);
  if ((c < 0x20 && c != '\t') || c == 0x7F) return {Kind::kControl, 1};
  const utf8::Step step = utf8::Decode(s, i);
  if (!step.valid && i + step.length == s.size() && c >= 0xC2 && c <= 0xF4) {
    return {Kind::kIncomplete, step.length};  // a character cut by the end
  }
  return {Kind::kText, step.length};
}

// Appends one clean line (valid UTF-8, no LF), cut in the middle if too long.
void AppendLine(std::string_view line, std::string& out, CleanCuts* cuts) {
  if (line.size() <= kCleanMaxLineBytes) {
    out.append(line);
    return;
  }
  const std::size_t head = utf8::PrefixWithin(line, kCleanKeepBytes);
  std::size_t tail_start = line.size() - kCleanKeepBytes;
  while (tail_start < line.size() &&
         (static_cast<unsigned char>(line[tail_start]) & 0xC0) == 0x80) {
    ++tail_start;  // never start inside a character
  }
  if (cuts) {
    ++cuts->lines;
    cuts->bytes += tail_start - head;
  }
  out.append(line.substr(0, head));
  out += " ... [";
  out += std::to_string(tail_start - head);
  out += " bytes cut] ... ";
  out.append(line.substr(tail_start));
}

// The clean view of s, every token of which is complete (or cut by an end that is final).
std::string Transform(std::string_view s, CleanCuts* cuts) {
  std::string out;
  std::string line;
  bool cr_pending = false;  // a CR was seen: the next text starts a new frame
  for (std::size_t i = 0; i < s.size();) {
    const Token t = Next(s, i);
    switch (t.kind) {
      case Kind::kText:
      case Kind::kIncomplete:  // only a final character here (an escape cut short is escape)
        if (t.kind == Kind::kIncomplete && s[i] == kEsc) break;
        if (cr_pending) line.clear();
        cr_pending = false;
        if (t.kind == Kind::kText && utf8::Decode(s, i).valid) {
          line.append(s.substr(i, t.length));
        } else {
          line.append(kReplacement);
        }
        break;
      case Kind::kCr:
        cr_pending = true;
        break;
      case Kind::kLf:
        AppendLine(line, out, cuts);
        out.push_back('\n');
        line.clear();
        cr_pending = false;
        break;
      case Kind::kEscape:
      case Kind::kControl:
        break;
    }
    i += t.length;
  }
  AppendLine(line, out, cuts);
  return out;
}

}  // namespace

std::string CleanText(std::string_view raw, CleanCuts* cuts) { return Transform(raw, cuts); }

CleanCut CleanRead(std::string_view raw, std::size_t limit, bool final) {
  const std::size_t window = std::min(limit, raw.size());
  CleanCut cut;
  if (final && window == raw.size()) {
    cut.consumed = raw.size();
  } else {
    std::size_t after_lf = 0;    // just after the last LF within the window
    std::size_t after_text = 0;  // just after the last token but a CR within the window
    std::size_t first = 0;       // just after the first token that is not a CR, wherever it ends
    for (std::size_t i = 0; i < raw.size();) {
      Token t = Next(raw, i);
      if (t.kind == Kind::kIncomplete) {
        if (!final) break;
        t.kind = Kind::kText;  // the end of everything: it ends there
      }
      const std::size_t end = i + t.length;
      if (t.kind != Kind::kCr && first == 0) first = end;
      const bool in_window = end <= window;
      if (in_window && t.kind == Kind::kLf) after_lf = end;
      if (in_window && t.kind != Kind::kCr) after_text = end;
      if ((!in_window || end == window) && first != 0) break;
      i = end;
    }
    // Trailing CRs wait: the next byte tells a CR LF (a line end) from a new frame.
    cut.consumed = after_lf != 0 ? after_lf : after_text != 0 ? after_text : first;
  }
  cut.text = Transform(raw.substr(0, cut.consumed), nullptr);
  return cut;
}

RenderedOutput RenderClean(const OutputBuffer& buffer) {
  RenderedOutput result;
  Truncation t;
  t.original_bytes = buffer.total();
  CleanCuts cuts;
  const std::string tail = buffer.tail();
  if (buffer.total() <= kHeadBytes + kTailBytes) {
    std::string whole(buffer.head());
    whole += tail;
    result.text = CleanText(whole, &cuts);
  } else {
    std::string_view head = buffer.head();
    head = head.substr(0, utf8::CompletePrefix(head));
    std::string_view tail_view = tail;
    tail_view.remove_prefix(utf8::OrphanContinuations(tail_view));
    t.omitted_bytes = buffer.total() - head.size() - tail_view.size();
    result.text = CleanText(head, &cuts);
    result.text += "\n\n... [omitted ";
    result.text += std::to_string(t.omitted_bytes);
    result.text += " bytes] ...\n\n";
    result.text += CleanText(tail_view, &cuts);
  }
  t.lines_truncated = cuts.lines;
  t.retained_bytes =
      t.original_bytes - t.omitted_bytes - std::min(cuts.bytes, t.original_bytes - t.omitted_bytes);
  if (t.omitted_bytes > 0 || t.lines_truncated > 0) result.truncation = t;
  return result;
}

}  // namespace corral::proc
