#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace corral::cli {

// `word` as one word of a POSIX shell command line: as it is when it holds only characters no
// shell treats specially, else in single quotes (a ' inside becomes '\''). The empty word is ''.
std::string ShellQuote(std::string_view word);

// The shell command line `corral run -- WORDS...` asks for: one word is a command line as given
// (`corral run -- 'make && make test'`); several are the words of one command, each quoted, so
// the command sees exactly these arguments.
std::string CommandLine(const std::vector<std::string>& words);

}  // namespace corral::cli
