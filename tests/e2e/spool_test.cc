// The output spool through the real server (DESIGN.md §7.1, §7.2): cursor reads, live waits,
// the event stream and its resume, and a spool that fails without harming anything else.
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../helpers/pattern.h"
#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

std::string Path(const std::string& id, const std::string& action, const std::string& query) {
  return "/api/v0/processes/" + id + "/" + action + (query.empty() ? "" : "?" + query);
}

json::object Read(Server& server, const std::string& id, const std::string& query) {
  HttpResult r = server.Get(Path(id, "read", query));
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json.is_object() ? r.json.as_object() : json::object();
}

std::string Data(const json::object& o) { return std::string(o.at("data").as_string()); }
std::uint64_t Next(const json::object& o) { return o.at("next_offset").to_number<std::uint64_t>(); }

// Every byte from `offset` on, through chained reads of `limit` (stops at eof).
std::string ReadAll(Server& server, const std::string& id, std::uint64_t offset = 0,
                    const std::string& limit = "1048576") {
  std::string all;
  for (int i = 0; i < 100000; ++i) {
    auto o = Read(server, id, "offset=" + std::to_string(offset) + "&limit=" + limit);
    if (o.empty()) break;
    EXPECT_EQ(o.at("offset").to_number<std::uint64_t>(), offset) << "no gap expected";
    all += Data(o);
    offset = Next(o);
    if (o.at("eof").as_bool()) break;
  }
  return all;
}

TEST(Spool, TenMegabytesComeBackByteForByteThroughChainedReads) {
  Server server;
  constexpr std::size_t kBytes = 10 * 1024 * 1024;
  const std::string id = server.Start(kHelper + " print " + std::to_string(kBytes));
  server.WaitOutput(id);
  const std::string all = ReadAll(server, id);
  ASSERT_EQ(all.size(), kBytes);
  EXPECT_TRUE(all == Pattern(kBytes)) << "the bytes read back differ from those written";
  auto last = Read(server, id, "offset=" + std::to_string(kBytes));
  EXPECT_EQ(Data(last), "");
  EXPECT_TRUE(last.at("eof").as_bool());
  EXPECT_EQ(last.at("total_bytes").to_number<std::uint64_t>(), kBytes);
  EXPECT_EQ(last.at("exit_code").to_number<int>(), 0);
}

TEST(Spool, AReadNeverEndsInsideACharacter) {
  Server server;
  // The euro sign (3 bytes) written in two pieces, apart in time.
  const std::string id = server.Start("printf 'a\\342'; sleep 1; printf '\\202\\254b'");
  ASSERT_TRUE(Eventually(
      [&] { return Read(server, id, "").at("total_bytes").to_number<std::uint64_t>() == 2; }));
  auto partial = Read(server, id, "");
  EXPECT_EQ(Data(partial), "a");
  EXPECT_EQ(Next(partial), 1u);
  // Nothing complete beyond offset 1 yet: wait=output keeps waiting until the rest comes.
  auto rest = Read(server, id, "offset=1&wait=output&timeout_ms=20000");
  EXPECT_EQ(Data(rest),
            "\xe2\x82\xac"
            "b");
  EXPECT_EQ(Next(rest), 5u);
}

TEST(Spool, InvalidBytesBecomeReplacementCharactersWhileOffsetsCountRawBytes) {
  Server server;
  const std::string id = server.Start("printf 'a\\377\\376b'");
  server.WaitOutput(id);
  auto o = Read(server, id, "");
  EXPECT_EQ(Data(o),
            "a\xef\xbf\xbd\xef\xbf\xbd"
            "b");
  EXPECT_EQ(Next(o), 4u);
  EXPECT_EQ(o.at("total_bytes").to_number<std::uint64_t>(), 4u);
  EXPECT_TRUE(o.at("eof").as_bool());
  auto tail = Read(server, id, "offset=2");
  EXPECT_EQ(Data(tail),
            "\xef\xbf\xbd"
            "b");
}

TEST(Spool, BadCursorsAndQueryValuesAre400) {
  Server server;
  const std::string id = server.Start("printf abc");
  server.WaitOutput(id);
  HttpResult past = server.Get(Path(id, "read", "offset=4"));
  EXPECT_EQ(past.status, 400);
  EXPECT_EQ(past.json.at("message").as_string(), "Invalid offset.");
  for (const std::string name : {"offset", "limit", "timeout_ms", "idle_ms", "wait", "view"}) {
    HttpResult bad = server.Get(Path(id, "read", name + "=-1"));
    EXPECT_EQ(bad.status, 400) << name;
    EXPECT_EQ(bad.json.at("message").as_string(), "Invalid " + name + ".") << bad.body;
  }
  EXPECT_EQ(server.Get(Path(id, "stream", "offset=4")).status, 400);
  EXPECT_EQ(server.Get(Path("nope", "read", "")).status, 404);
}

TEST(Spool, AnotherChatsProcessIsNotFound) {
  Server server;
  const std::string chat = "6a3c1a4e-2b1f-4c3d-9e8f-0a1b2c3d4e5f";
  const std::string other = "7b4d2b5f-3c2a-4d4e-8f9a-1b2c3d4e5f6a";
  const std::string id = server.Start("echo hi", "", {{"Coder-Chat-Id", chat}});
  server.WaitOutput(id, {{"Coder-Chat-Id", chat}});
  EXPECT_EQ(server.Get(Path(id, "read", ""), {{"Coder-Chat-Id", other}}).status, 404);
  EXPECT_EQ(server.Get(Path(id, "stream", ""), {{"Coder-Chat-Id", other}}).status, 404);
  EXPECT_EQ(server.Get(Path(id, "read", ""), {{"Coder-Chat-Id", chat}}).status, 200);
}

TEST(Spool, ABoundedSpoolReportsWhatItDropped) {
  Server server({.args = {"--spool-max", "64K"}});
  constexpr std::size_t kBytes = 300000;
  const std::string id = server.Start(kHelper + " print " + std::to_string(kBytes));
  server.WaitOutput(id);
  // The head is half the spool: 32 KiB; the ring the latest 32 KiB.
  auto head = Read(server, id, "limit=1048576");
  EXPECT_EQ(Data(head), Pattern(32768));
  EXPECT_FALSE(head.contains("gap"));
  auto after = Read(server, id, "offset=" + std::to_string(Next(head)) + "&limit=1048576");
  ASSERT_TRUE(after.contains("gap")) << json::serialize(after);
  const auto& gap = after.at("gap").as_object();
  EXPECT_EQ(gap.at("from").to_number<std::uint64_t>(), 32768u);
  EXPECT_EQ(gap.at("to").to_number<std::uint64_t>(), kBytes - 32768);
  EXPECT_EQ(after.at("offset").to_number<std::uint64_t>(), kBytes - 32768);
  EXPECT_EQ(Data(after), Pattern(32768, kBytes - 32768));
  EXPECT_TRUE(after.at("eof").as_bool());
}

TEST(Spool, BytesABackgroundJobWritesAfterTheDrainGraceAppearInRead) {
  Server server({.args = {"--drain-grace", "300ms"}});
  const std::string id = server.Start("echo early; (sleep 2; echo late) &");
  auto done = server.WaitOutput(id);
  EXPECT_FALSE(done.at("running").as_bool());
  auto late = Read(server, id, "offset=6&wait=output&timeout_ms=20000");
  EXPECT_EQ(Data(late), "late\n");
  EXPECT_FALSE(late.at("running").as_bool());
  ASSERT_TRUE(Eventually([&] { return Read(server, id, "offset=11").at("eof").as_bool(); }));
}

TEST(Spool, WaitOutputWakesOnTheFirstNewByte) {
  Server server;
  const std::string id = server.Start("sleep 1; echo x; sleep 60");
  auto o = Read(server, id, "wait=output&timeout_ms=30000");
  EXPECT_EQ(Data(o), "x\n");
  // It woke while the command still runs: on the byte, not at the end.
  EXPECT_TRUE(o.at("running").as_bool());
  EXPECT_FALSE(o.at("eof").as_bool());
  auto exit = Read(server, id, "offset=2&wait=exit&timeout_ms=0");
  EXPECT_TRUE(exit.at("running").as_bool()) << "timeout_ms=0 answers at once";
  server.Post(Path(id, "signal", ""), R"({"signal":"kill"})");
}

// A stream read over HTTP/1.0 (its body ends at the close, no chunking) until the server closes.
std::string StreamBody(Server& server, const std::string& id, const std::string& last_event_id,
                       std::size_t stop_after = 0, std::string_view stop_at = {}) {
  RawConnection c(server.host(), server.port());
  std::string request = "GET " + Path(id, "stream", "") + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  if (!last_event_id.empty()) request += "Last-Event-ID: " + last_event_id + "\r\n";
  EXPECT_TRUE(c.Send(request + "\r\n"));
  std::string got;
  char buf[65536];
  for (;;) {
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) break;
    const ssize_t n = ::read(c.fd(), buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
    if (stop_after && got.size() >= stop_after) break;
    // Looked for in what just came (and the few bytes before it that could start it).
    const std::size_t from =
        got.size() - std::min(got.size(), static_cast<std::size_t>(n) + stop_at.size());
    if (!stop_at.empty() && got.find(stop_at, from) != std::string::npos) {
      break;
    }
  }
  const std::size_t body = got.find("\r\n\r\n");
  EXPECT_NE(body, std::string::npos);
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  return body == std::string::npos ? "" : got.substr(body + 4);
}

struct Event {
  std::string id, name, data;
};

// The complete events of a stream body (comments skipped).
std::vector<Event> Events(const std::string& body) {
  std::vector<Event> events;
  std::size_t pos = 0;
  for (std::size_t end; (end = body.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
    Event e;
    std::string block = body.substr(pos, end - pos);
    for (std::size_t p = 0; p <= block.size();) {
      std::size_t nl = block.find('\n', p);
      if (nl == std::string::npos) nl = block.size();
      std::string line = block.substr(p, nl - p);
      if (line.starts_with("id: ")) e.id = line.substr(4);
      if (line.starts_with("event: ")) e.name = line.substr(7);
      if (line.starts_with("data: ")) e.data = line.substr(6);
      p = nl + 1;
    }
    if (!e.name.empty()) events.push_back(e);
  }
  return events;
}

TEST(Spool, AStreamResumedWithLastEventIdContinuesExactlyWhereItStopped) {
  Server server;
  constexpr std::size_t kBytes = 300000;
  const std::string id = server.Start(kHelper + " print " + std::to_string(kBytes));
  server.WaitOutput(id);
  // The first connection stops after its first event (a 64 KiB chunk).
  auto first = Events(StreamBody(server, id, "", 70000));
  ASSERT_GE(first.size(), 1u);
  ASSERT_EQ(first[0].name, "output");
  std::string all = std::string(json::parse(first[0].data).at("data").as_string());
  EXPECT_EQ(first[0].id, std::to_string(all.size()));
  auto rest = Events(StreamBody(server, id, first[0].id));
  ASSERT_GE(rest.size(), 2u);
  for (std::size_t i = 0; i + 1 < rest.size(); ++i) {
    ASSERT_EQ(rest[i].name, "output");
    const auto data = json::parse(rest[i].data).as_object();
    EXPECT_EQ(data.at("offset").to_number<std::uint64_t>(), all.size());
    all += std::string(data.at("data").as_string());
    EXPECT_EQ(rest[i].id, std::to_string(all.size()));
  }
  EXPECT_TRUE(all == Pattern(kBytes));
  EXPECT_EQ(rest.back().name, "exit");
  EXPECT_EQ(json::parse(rest.back().data).at("exit_code").to_number<int>(), 0);
}

TEST(Spool, AStreamFollowsARunningCommandLive) {
  Server server;
  const std::string id = server.Start("echo one; sleep 1; echo two; exit 3");
  auto events = Events(StreamBody(server, id, ""));
  std::string all;
  for (const auto& e : events) {
    if (e.name == "output") all += std::string(json::parse(e.data).at("data").as_string());
  }
  EXPECT_EQ(all, "one\ntwo\n");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "exit");
  auto exit = json::parse(events.back().data).as_object();
  EXPECT_EQ(exit.at("exit_code").to_number<int>(), 3);
  EXPECT_EQ(exit.at("ended_by").as_string(), "exit");
}

TEST(Spool, AStreamReaderThatStopsReadingIsCutOffWhileAnotherGetsEverything) {
  Server server({.args = {"--request-timeout", "1s"}});
  // More than the socket buffers of both ends hold, then silence without an end.
  const std::string id =
      server.Start("head -c 33554432 /dev/zero | tr '\\0' y; echo; echo done; sleep 60");
  RawConnection stuck(server.host(), server.port());
  ASSERT_TRUE(stuck.Send("GET " + Path(id, "stream", "") + " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  // A reader that keeps up meanwhile gets every byte up to the command's last line.
  const std::string live = StreamBody(server, id, "", 0, "done\\n");
  EXPECT_NE(live.find("done\\n"), std::string::npos);
  // The stuck one is cut off once its write has waited past the request timeout: the server
  // then holds no connection but the one asking. Only then is it read (reading earlier would
  // unstick it): what was in flight, then the end.
  EXPECT_TRUE(Eventually([&] { return server.Health().at("connections").as_int64() == 1; }));
  bool cut_off = false;
  for (int i = 0; i < 60 && !cut_off; ++i) cut_off = stuck.ClosedByPeer(std::chrono::seconds(1));
  EXPECT_TRUE(cut_off);
}

TEST(Spool, FollowersOfOneCommandComeAndGoAndEachGetsItsOutputLive) {
  Server server;
  const std::string id =
      server.Start("read _; echo one; read _; echo two; read _; exit 4", "\"stdin\":\"pipe\"");
  auto input = [&] {
    EXPECT_EQ(server.Post(Path(id, "input", ""), R"({"data":"\n"})").status, 200);
  };
  // A follower whose response has begun: it follows from then on.
  auto follow = [&](const std::string& last_event_id) {
    auto c = std::make_unique<RawConnection>(server.host(), server.port());
    EXPECT_TRUE(c->Send("GET " + Path(id, "stream", "") +
                        " HTTP/1.0\r\nHost: localhost\r\nLast-Event-ID: " + last_event_id +
                        "\r\n\r\n"));
    std::string head;
    EXPECT_TRUE(c->ReadUntil(head, "\r\n\r\n"));
    EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
    return c;
  };
  auto staying = follow("0");
  auto leaving = follow("0");
  input();
  std::string got;
  EXPECT_TRUE(leaving->ReadUntil(got, "one\\n"));
  leaving->Close();
  got.clear();
  EXPECT_TRUE(staying->ReadUntil(got, "one\\n"));
  staying->Close();
  // Every follower gone, a newcomer is followed live all the same.
  auto late = follow("4");
  input();
  got.clear();
  EXPECT_TRUE(late->ReadUntil(got, "two\\n"));
  input();
  std::string end;
  late->ReadUntil(end, "event: exit");
  EXPECT_NE(end.find("event: exit\ndata: {\"exit_code\":4"), std::string::npos) << end;
}

TEST(Spool, OutputOfADoneProcessRendersFromTheSpoolAndTheCleanViewToo) {
  Server server;
  const std::string id = server.Start("printf 'a\\033[31mred\\033[0m\\r\\nx 50%%\\rx 100%%\\n'");
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("output").as_string(), "a\x1b[31mred\x1b[0m\r\nx 50%\rx 100%\n");
  EXPECT_FALSE(out.contains("spool_error"));
  HttpResult clean = server.Get(Path(id, "output", "view=clean"));
  ASSERT_EQ(clean.status, 200);
  EXPECT_EQ(clean.json.at("output").as_string(), "ared\nx 100%\n");
  EXPECT_EQ(Data(Read(server, id, "view=clean")), "ared\nx 100%\n");
}

TEST(Spool, AStreamOfAProcessFromBeforeARestartSendsItsOutputThenItsExit) {
  const std::string state = TempDir() + "/state";
  constexpr std::size_t kBytes = 200000;
  const Server::Options options{.args = {"--state-dir", state}};
  std::string id;
  {
    Server server(options);
    id = server.Start(kHelper + " print " + std::to_string(kBytes) + "; exit 5");
    server.WaitOutput(id);
    server.Crash();
  }
  Server server(options);
  auto events = Events(StreamBody(server, id, "1000"));
  std::string all;
  for (const auto& e : events) {
    if (e.name == "output") all += std::string(json::parse(e.data).at("data").as_string());
  }
  EXPECT_TRUE(all == Pattern(kBytes - 1000, 1000));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "exit");
  EXPECT_EQ(json::parse(events.back().data).at("exit_code").to_number<int>(), 5);
}

// A spool on a file system that is full: the command runs on, `output` (head+tail from memory)
// and the exit status are right, and the answers say the spool failed.
TEST(SpoolFault, ADiskFullSpoolLosesNeitherTheOutputViewNorTheExitStatus) {
  const std::string dir = TempDir();
  if (::geteuid() != 0 || ::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=128k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here";
  }
  constexpr std::size_t kBytes = 500000;
  const std::string command = kHelper + " print " + std::to_string(kBytes) + "; exit 7";
  json::object expected;
  {
    Server normal;
    expected = normal.WaitOutput(normal.Start(command));
  }
  Server server({.env = {{"TMPDIR", dir}}});
  const std::string id = server.Start(command);
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("output"), expected.at("output"));
  EXPECT_EQ(out.at("truncated"), expected.at("truncated"));
  EXPECT_EQ(out.at("exit_code").to_number<int>(), 7);
  ASSERT_TRUE(out.contains("spool_error")) << json::serialize(out);
  auto read = Read(server, id, "offset=0&limit=1048576");
  EXPECT_TRUE(read.contains("spool_error"));
  EXPECT_EQ(read.at("total_bytes").to_number<std::uint64_t>(), kBytes);
  // What reached the disk reads back; what did not is a gap up to the end.
  const std::uint64_t kept = read.contains("gap") ? 0 : Next(read);
  EXPECT_EQ(Data(read), Pattern(kept));
  auto rest = kept == 0 ? read : Read(server, id, "offset=" + std::to_string(kept));
  ASSERT_TRUE(rest.contains("gap")) << json::serialize(rest);
  EXPECT_EQ(rest.at("gap").at("from").to_number<std::uint64_t>(), kept);
  EXPECT_EQ(Next(rest), kBytes);
  EXPECT_TRUE(rest.at("eof").as_bool());
  // Logged once, not per write.
  const std::string log = server.Log();
  const std::size_t first = log.find("spool failed");
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("spool failed", first + 1), std::string::npos) << log;
  ::umount2(dir.c_str(), MNT_DETACH);
}

TEST(SpoolFault, ASpoolFileDeletedUnderTheServerLosesNothing) {
  const std::string tmp = TempDir();
  Server server({.env = {{"TMPDIR", tmp}}});
  const std::string id = server.Start("echo a; sleep 1; echo b");
  // The server's spool directory is spool/ in its private state dir under $TMPDIR (the harness
  // runs servers with --ephemeral).
  const CommandResult rm =
      RunProgram({"/bin/sh", "-c", "rm -v \"$0\"/corral-state-*/spool/\"$1\"", tmp, id});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  ASSERT_NE(rm.out.find(id), std::string::npos) << rm.out;
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("output").as_string(), "a\nb\n");
  EXPECT_FALSE(out.contains("spool_error"));
  auto read = Read(server, id, "");
  EXPECT_EQ(Data(read), "a\nb\n");
  EXPECT_TRUE(read.at("eof").as_bool());
}

}  // namespace
}  // namespace corral::testing
