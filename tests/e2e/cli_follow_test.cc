// `corral run` and `corral logs` following output through the real binary: output shown as it
// comes, the whole output byte for byte, offsets, the clean view, idempotent starts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../helpers/pattern.h"
#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

class CliFollow : public CliTest {
 protected:
  // Starts `command` in the background; its id.
  std::string StartBackground(const std::string& command) {
    auto started = Corral({"run", "--background", "--", command});
    EXPECT_EQ(started.exit_code, 0) << started.err;
    return started.out.substr(0, 36);
  }

  // A shell command line that prints "first", waits until Open() is called, then prints
  // "second" and exits with `code`: what shows before Open() was shown while it ran.
  std::string Gated(int code = 0) {
    return "echo first; while [ ! -e " + gate_ + " ]; do sleep 0.02; done; echo second; exit " +
           std::to_string(code);
  }
  void Open() { std::ofstream(gate_) << ""; }

  std::string gate_ = TempDir() + "/go";
};

TEST_F(CliFollow, RunShowsEachLineWhileTheCommandStillRuns) {
  BackgroundProgram run(Argv({"run", "--", Gated(3)}));
  ASSERT_TRUE(Eventually([&] { return run.Out() == "first\n"; })) << run.Out();
  EXPECT_FALSE(run.Exited()) << "the command waits for the gate";
  Open();
  auto r = run.Finish();
  EXPECT_EQ(r.out, "first\nsecond\n");
  EXPECT_EQ(r.exit_code, 3) << "the command's exit code, as before";
  EXPECT_EQ(r.err, "");
}

TEST_F(CliFollow, RunPrintsTheWholeOutputNotOnlyItsHeadAndTail) {
  constexpr std::size_t kBytes = 1'000'000;
  auto r = Corral({"run", "--", kHelper + " print " + std::to_string(kBytes)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), kBytes);
  EXPECT_TRUE(r.out == Pattern(kBytes)) << "byte for byte";
}

TEST_F(CliFollow, RunTimeoutKeepsWhatWasShownAndSaysWhereToFollowOn) {
  auto r = Corral({"run", "--timeout", "300ms", "--", "echo partial; sleep 60"});
  EXPECT_EQ(r.exit_code, 124);
  EXPECT_EQ(r.out, "partial\n");
  EXPECT_NE(r.err.find("logs -f --from 8 "), std::string::npos) << r.err;
}

TEST(CliFollowLeftovers, RunEndsWhenTheCommandIsDoneThoughLeftoversHoldItsOutput) {
  Server server({.args = {"--drain-grace", "200ms"}});
  const std::string address = "http://127.0.0.1:" + std::to_string(server.port());
  auto r = RunProgram({kCorral, "run", "--server", address, "--", "echo hi; sleep 100 &"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  // A partial character that leftovers never complete does not hold it either.
  auto partial =
      RunProgram({kCorral, "run", "--server", address, "--", "printf 'x\\303'; sleep 100 &"});
  EXPECT_EQ(partial.exit_code, 0) << partial.err;
  EXPECT_EQ(partial.out, "x");
}

TEST(CliAfterACrash, PsShowsWhatRanUnderADeadServerAsLost) {
  const std::string state = TempDir();
  const Server::Options options{.args = {"--state-dir", state, "--shutdown-grace", "300ms"}};
  std::string id;
  {
    Server server(options);
    id = server.Start("sleep 60");
    server.Crash();
  }
  Server server(options);
  const std::string address = "http://127.0.0.1:" + std::to_string(server.port());
  auto ps = RunProgram({kCorral, "ps", "--all", "--server", address});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_NE(ps.out.find(id + "  lost      -"), std::string::npos) << ps.out;
}

TEST_F(CliFollow, RunJsonStillPrintsOneAnswerAtTheEnd) {
  auto r = Corral({"run", "--json", "--", "echo a; exit 5"});
  EXPECT_EQ(r.exit_code, 5);
  json::value v = json::parse(r.out);
  EXPECT_EQ(v.at("output"), "a\n");
  EXPECT_EQ(v.at("exit_code"), 5);
}

TEST_F(CliFollow, LogsPrintsAMegabyteExactlyAsWritten) {
  constexpr std::size_t kBytes = 1 << 20;
  const std::string id = StartBackground(kHelper + " print " + std::to_string(kBytes));
  server_.WaitOutput(id);
  auto r = Corral({"logs", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), kBytes);
  EXPECT_TRUE(r.out == Pattern(kBytes)) << "byte for byte";
  auto from = Corral({"logs", "--from", "1000", id});
  EXPECT_EQ(from.exit_code, 0) << from.err;
  EXPECT_TRUE(from.out == Pattern(kBytes - 1000, 1000)) << "--from skips the first 1000 bytes";
  auto at_end = Corral({"logs", "--from", std::to_string(kBytes), id});
  EXPECT_EQ(at_end.exit_code, 0);
  EXPECT_EQ(at_end.out, "");
}

TEST_F(CliFollow, LogsOfARunningCommandPrintsWhatThereIsAndReturns) {
  const std::string id = StartBackground(Gated());
  ASSERT_TRUE(Eventually([&] { return Corral({"logs", id}).out == "first\n"; }));
  Open();
}

TEST_F(CliFollow, LogsFollowKeepsPrintingUntilTheProcessEnds) {
  const std::string id = StartBackground(Gated(9));
  BackgroundProgram follow(Argv({"logs", "-f", id}));
  ASSERT_TRUE(Eventually([&] { return follow.Out() == "first\n"; })) << follow.Out();
  EXPECT_FALSE(follow.Exited()) << "it follows until the end";
  Open();
  auto r = follow.Finish();
  EXPECT_EQ(r.exit_code, 0) << "logs exits 0 whatever the command's code";
  EXPECT_EQ(r.out, "first\nsecond\n");
  auto from = Corral({"logs", "--follow", "--from", "6", id});
  EXPECT_EQ(from.out, "second\n") << "a done process: --follow returns at once";
}

TEST_F(CliFollow, LogsJsonPrintsEachReadAnswer) {
  const std::string id = StartBackground("printf abc");
  server_.WaitOutput(id);
  auto r = Corral({"logs", "--json", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value v = json::parse(r.out);
  EXPECT_EQ(v.at("data"), "abc");
  EXPECT_EQ(v.at("next_offset"), 3);
  EXPECT_EQ(v.at("eof"), true);
}

TEST_F(CliFollow, LogsOfAnUnknownIdFailsWithTheServersMessage) {
  const std::string id = "6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f";
  for (const auto& args : std::vector<std::vector<std::string>>{{"logs", id}, {"logs", "-f", id}}) {
    auto r = Corral(args);
    EXPECT_EQ(r.exit_code, 125);
    EXPECT_EQ(r.err, "corral: Process \"" + id + "\" not found.\n");
  }
  const std::string known = StartBackground("printf abc");
  server_.WaitOutput(known);
  auto past = Corral({"logs", "--from", "4", known});
  EXPECT_EQ(past.exit_code, 125);
  EXPECT_NE(past.err.find("Invalid offset."), std::string::npos) << past.err;
}

TEST_F(CliFollow, CleanShowsTheLastFrameWithoutEscapes) {
  const std::string id = StartBackground("printf 'a\\n50%%\\r100%%\\n\\033[31mred\\033[0m\\n'");
  server_.WaitOutput(id);
  EXPECT_EQ(Corral({"logs", "--clean", id}).out, "a\n100%\nred\n");
  EXPECT_EQ(Corral({"output", "--clean", id}).out, "a\n100%\nred\n");
  EXPECT_EQ(Corral({"logs", id}).out, "a\n50%\r100%\n\033[31mred\033[0m\n") << "raw by default";
}

TEST_F(CliFollow, AnIdempotencyKeyStartsOnceAndAReplayFollowsTheSameProcess) {
  const std::string marks = TempDir() + "/marks";
  const std::string command = "echo ran >> " + marks + "; echo out; exit 4";
  auto first = Corral({"run", "--idempotency-key", "build-1", "--", command});
  EXPECT_EQ(first.exit_code, 4);
  EXPECT_EQ(first.out, "out\n");
  auto again = Corral({"run", "--idempotency-key", "build-1", "--", command});
  EXPECT_EQ(again.exit_code, 4) << "the first process's exit code";
  EXPECT_EQ(again.out, "out\n") << "the first process's output";
  EXPECT_NE(again.err.find("started earlier with this idempotency key"), std::string::npos)
      << again.err;
  std::ifstream in(marks);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(all, "ran\n") << "the command ran once";

  auto other = Corral({"run", "--idempotency-key", "build-1", "--", "echo something else"});
  EXPECT_EQ(other.exit_code, 125);
  EXPECT_EQ(other.err, "corral: Idempotency key reused with a different request.\n");
  auto bad = Corral({"run", "--idempotency-key", std::string(256, 'k'), "--", "true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("Invalid Idempotency-Key."), std::string::npos) << bad.err;

  // A background replay prints the same id.
  auto bg1 = Corral({"run", "--background", "--idempotency-key", "bg", "--", "sleep 0.1"});
  auto bg2 = Corral({"run", "--background", "--idempotency-key", "bg", "--", "sleep 0.1"});
  EXPECT_EQ(bg1.out, bg2.out);
  EXPECT_EQ(bg1.out.size(), 37u) << bg1.out;
}

}  // namespace
}  // namespace corral::testing
