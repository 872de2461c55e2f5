#include "cli/shell_quote.h"

#include <gtest/gtest.h>
#include <stdio.h>

namespace corral::cli {
namespace {

// What /bin/sh makes of `line` as the arguments of printf: each word followed by a NUL.
std::string WordsAsShellSeesThem(const std::string& line) {
  const std::string script = "printf '%s\\0' " + line;
  std::string command = "sh -c " + ShellQuote(script);
  FILE* p = ::popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

struct Case {
  std::string word;
  std::string quoted;
};

TEST(ShellQuote, QuotesExactlyWhatAShellWouldTouch) {
  const Case cases[] = {
      {"plain", "plain"},
      {"path/to/file-1.2_x,y:z@h%+", "path/to/file-1.2_x,y:z@h%+"},
      {"", "''"},
      {"a b", "'a b'"},
      {"it's", "'it'\\''s'"},
      {"'", "''\\'''"},
      {"\"q\"", "'\"q\"'"},
      {"$x", "'$x'"},
      {"$(rm -rf /)", "'$(rm -rf /)'"},
      {"`id`", "'`id`'"},
      {"back\\slash", "'back\\slash'"},
      {"two\nlines", "'two\nlines'"},
      {"tab\there", "'tab\there'"},
      {"*", "'*'"},
      {"~", "'~'"},
      {"a=b", "'a=b'"},
      {"x;y", "'x;y'"},
      {"a|b&c>d<e", "'a|b&c>d<e'"},
      {"(sub)", "'(sub)'"},
      {"#comment", "'#comment'"},
      {"caf\xC3\xA9", "'caf\xC3\xA9'"},
      {"\xF0\x9F\x90\x8E", "'\xF0\x9F\x90\x8E'"},
      {"[%s]", "'[%s]'"},
      {"{a,b}", "'{a,b}'"},
      {"!", "'!'"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ShellQuote(c.word), c.quoted) << c.word;
    EXPECT_EQ(WordsAsShellSeesThem(ShellQuote(c.word)), c.word + std::string(1, '\0')) << c.word;
  }
}

TEST(CommandLine, OneWordIsALineAsGiven) {
  EXPECT_EQ(CommandLine({"make && make test"}), "make && make test");
  EXPECT_EQ(CommandLine({"echo $HOME"}), "echo $HOME");
}

TEST(CommandLine, SeveralWordsKeepTheirBoundaries) {
  EXPECT_EQ(CommandLine({"printf", "%s|", "a b", "$x"}), "printf '%s|' 'a b' '$x'");
  const std::vector<std::string> words = {"it's", "", "two\nlines", "\\", "caf\xC3\xA9", "-n"};
  std::vector<std::string> all = {"x"};
  all.insert(all.end(), words.begin(), words.end());
  std::string expected;
  for (const auto& w : all) expected += w + std::string(1, '\0');
  EXPECT_EQ(WordsAsShellSeesThem(CommandLine(all)), expected);
}

}  // namespace
}  // namespace corral::cli
