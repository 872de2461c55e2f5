// The spool wired into the process table, and the cursor reads and stream steps over it.
#include "api/cursor.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "proc/process_table.h"
#include "server/spool_dir.h"
#include "sys/fault.h"

namespace corral::api {
namespace {

namespace asio = boost::asio;

class SpoolTableTest : public ::testing::Test {
 protected:
  ~SpoolTableTest() override { sys::ClearFaults(); }

  proc::ProcessTable& Table(std::uint64_t spool_total = proc::kDefaultSpoolTotalBytes,
                            std::uint64_t spool_max = proc::kMinSpoolMaxForRender) {
    proc::TableOptions o;
    o.default_workdir = "/";
    o.base_env = {{"PATH", "/usr/bin:/bin"}};
    o.spool_dir = dir_->path();
    o.spool_max = spool_max;
    o.spool_total = spool_total;
    table_ = std::make_unique<proc::ProcessTable>(ioc_.get_executor(), o);
    return *table_;
  }

  std::shared_ptr<const proc::Process> Run(const std::string& command) {
    auto p = table_->Start({.command = command});
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return nullptr;
    for (int i = 0; i < 1000 && !(*p)->output_complete(); ++i) {
      ioc_.run_one_for(std::chrono::milliseconds(10));
    }
    return *p;
  }

  std::size_t Files() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_->path())) ++n;
    return n;
  }

  std::optional<server::TempSpoolDir> dir_ = [] {
    std::string error;
    return server::TempSpoolDir::Make(error);
  }();
  asio::io_context ioc_{1};
  std::unique_ptr<proc::ProcessTable> table_;
};

TEST_F(SpoolTableTest, ADoneProcessRendersFromItsSpoolAndKeepsNoBufferInMemory) {
  Table();
  auto p = Run("head -c 100000 /dev/zero | tr '\\0' x; echo; printf 'end\\n'");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->output().total(), 0u) << "the in-memory buffer was dropped";
  EXPECT_EQ(p->total_bytes(), 100005u);
  auto rendered = p->RenderOutput(proc::View::kRaw);
  ASSERT_TRUE(rendered.ok());
  EXPECT_TRUE(rendered->text.ends_with("x ... [truncated]\nend\n"))
      << rendered->text.substr(0, 100);
  ASSERT_TRUE(rendered->truncation.has_value());
  EXPECT_EQ(rendered->truncation->original_bytes, 100005u);
  EXPECT_TRUE(p->spool_error().empty());
}

TEST_F(SpoolTableTest, AFailedSpoolKeepsTheBufferAndSaysWhy) {
  Table();
  sys::InjectFault(sys::Call::kSpoolWrite, ENOSPC);
  auto p = Run("printf 'hello\\n'; exit 3");
  ASSERT_TRUE(p);
  EXPECT_NE(p->spool_error().find("No space left"), std::string::npos) << p->spool_error();
  EXPECT_EQ(p->output().head(), "hello\n");
  EXPECT_EQ(p->exit_status()->code, 3);
  auto read = ReadProcessOutput(*p, 0, 100, proc::View::kRaw);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data, "");
  ASSERT_TRUE(read->gap.has_value());
  EXPECT_EQ(read->gap->to, 6u);
  EXPECT_TRUE(read->eof);
}

TEST_F(SpoolTableTest, TheSpoolTotalForgetsTheOldestDoneProcessesFirst) {
  // Each spool takes its header plus 64 KiB: two fit, a third does not.
  auto& table = Table(2 * (proc::kMinSpoolMaxForRender + store::kSpoolHeaderBytes));
  auto first = Run("head -c 100000 /dev/zero");
  auto second = Run("head -c 100000 /dev/zero");
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(Files(), 2u);
  auto third = Run("head -c 100000 /dev/zero");
  EXPECT_EQ(table.Find(first->id()), nullptr) << "the oldest went";
  EXPECT_NE(table.Find(second->id()), nullptr);
  EXPECT_NE(table.Find(third->id()), nullptr);
  EXPECT_EQ(Files(), 2u) << "with its spool file";
  EXPECT_LE(table.spool_disk_bytes(), 2 * (proc::kMinSpoolMaxForRender + store::kSpoolHeaderBytes));
}

TEST_F(SpoolTableTest, AStreamSendsEveryChunkThenTheExitEvent) {
  Table(proc::kDefaultSpoolTotalBytes, store::kDefaultSpoolMaxBytes);
  auto p = Run("head -c 150000 /dev/zero | tr '\\0' y; exit 2");
  ASSERT_TRUE(p);
  std::uint64_t offset = 0;
  std::string all;
  for (int i = 0; i < 10; ++i) {
    auto step = NextStreamStep(*p, &offset);
    ASSERT_TRUE(step.ok());
    if (step->kind == StreamStep::Kind::kEnd) {
      EXPECT_EQ(*step->text, "event: exit\ndata: {\"exit_code\":2,\"ended_by\":\"exit\"}\n\n");
      break;
    }
    ASSERT_EQ(step->kind, StreamStep::Kind::kSend);
    EXPECT_TRUE(step->text->starts_with("id: " + std::to_string(offset) + "\nevent: output\n"));
    all += *step->text;
  }
  EXPECT_EQ(offset, 150000u);
  // A 64 KiB chunk per event (the last one shorter), wholly `y`s.
  EXPECT_NE(all.find("\"offset\":65536"), std::string::npos);
  EXPECT_NE(all.find("\"offset\":131072"), std::string::npos);
}

TEST_F(SpoolTableTest, WaitOutputWakesOnTheNextAppend) {
  auto& table = Table();
  auto started = table.Start({.command = "sleep 0.3; echo x; sleep 5"});
  ASSERT_TRUE(started.ok());
  auto p = *started;
  bool woke = false;
  asio::co_spawn(
      ioc_,
      [&]() -> asio::awaitable<void> {
        co_await table.WaitOutput(p);
        woke = true;
      },
      asio::detached);
  for (int i = 0; i < 1000 && !woke; ++i) ioc_.run_one_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(woke);
  EXPECT_EQ(p->total_bytes(), 2u);
  EXPECT_TRUE(p->running());
  EXPECT_EQ(table.waiters(), 0u);
  EXPECT_TRUE(table.Signal(*p, SIGKILL).ok());
  for (int i = 0; i < 1000 && p->running(); ++i) ioc_.run_one_for(std::chrono::milliseconds(10));
}

TEST_F(SpoolTableTest, FollowersAtOneOffsetShareItsEventUntilTheOutputGrows) {
  auto& table = Table();
  auto started = table.Start({.command = "printf 'one\\n'; read _; printf 'two\\n'; sleep 5",
                              .stdin_mode = sys::StdinMode::kPipe});
  ASSERT_TRUE(started.ok());
  auto p = *started;
  for (int i = 0; i < 1000 && p->total_bytes() < 4; ++i) {
    ioc_.run_one_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(p->total_bytes(), 4u);
  std::uint64_t first = 0, second = 0;
  auto a = NextStreamStep(*p, &first);
  auto b = NextStreamStep(*p, &second);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->kind, StreamStep::Kind::kSend);
  EXPECT_EQ(a->text, b->text) << "one encoded event, shared";
  EXPECT_EQ(second, 4u);
  auto caught_up = NextStreamStep(*p, &second);
  ASSERT_TRUE(caught_up.ok());
  EXPECT_EQ(caught_up->kind, StreamStep::Kind::kWait);

  // Once it grows, a follower still at 0 gets all of it, not the event cached before.
  ASSERT_TRUE(table.WriteInput(*p, "\n", false).ok());
  for (int i = 0; i < 1000 && p->total_bytes() < 8; ++i) {
    ioc_.run_one_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(p->total_bytes(), 8u);
  std::uint64_t late = 0;
  auto c = NextStreamStep(*p, &late);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(late, 8u);
  EXPECT_NE(c->text->find("one\\ntwo\\n"), std::string::npos) << *c->text;
  auto d = NextStreamStep(*p, &second);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(second, 8u);
  EXPECT_NE(d->text->find("\"offset\":4"), std::string::npos) << *d->text;
  EXPECT_TRUE(table.Signal(*p, SIGKILL).ok());
  for (int i = 0; i < 1000 && p->running(); ++i) ioc_.run_one_for(std::chrono::milliseconds(10));
}

}  // namespace
}  // namespace corral::api
