#include "store/spool.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "sys/fault.h"

namespace corral::store {
namespace {

// Byte i of a test stream: no short period, so a byte served from the wrong place shows.
char StreamByte(std::uint64_t i) { return static_cast<char>((i * 0x9E3779B97F4A7C15ull) >> 56); }
std::string Stream(std::uint64_t from, std::uint64_t n) {
  std::string s(n, '\0');
  for (std::uint64_t k = 0; k < n; ++k) s[k] = StreamByte(from + k);
  return s;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-spool-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    sys::ClearFaults();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Spool> Make(std::uint64_t max_bytes, const std::string& id = "p1") {
    auto spool = Spool::Create(dir_, id, max_bytes);
    EXPECT_TRUE(spool.ok()) << (spool.ok() ? "" : spool.status().message());
    return spool.ok() ? std::move(spool.value()) : nullptr;
  }

  // Appends n stream bytes from total() in writes of `write_size`.
  static void Feed(Spool& spool, std::uint64_t n, std::size_t write_size) {
    std::uint64_t at = spool.total();
    const std::uint64_t end = at + n;
    while (at < end) {
      const std::uint64_t k = std::min<std::uint64_t>(write_size, end - at);
      ASSERT_TRUE(spool.Append(Stream(at, k)).ok());
      at += k;
    }
  }

  // Reads everything from `offset` in reads of `limit`; checks every byte against the stream,
  // and returns the gaps met on the way.
  static std::vector<Gap> ReadAllChecked(const Spool& spool, std::uint64_t offset,
                                         std::size_t limit) {
    std::vector<Gap> gaps;
    while (offset < spool.total()) {
      auto chunk = spool.Read(offset, limit);
      EXPECT_TRUE(chunk.ok()) << chunk.status().message();
      if (!chunk.ok()) break;
      if (chunk->gap) {
        EXPECT_EQ(chunk->gap->from, offset);
        EXPECT_EQ(chunk->gap->to, chunk->offset);
        gaps.push_back(*chunk->gap);
      } else {
        EXPECT_EQ(chunk->offset, offset);
      }
      EXPECT_LE(chunk->bytes.size(), limit);
      EXPECT_TRUE(chunk->bytes == Stream(chunk->offset, chunk->bytes.size()))
          << "at offset " << chunk->offset;
      if (chunk->bytes.empty() && !chunk->gap) {
        ADD_FAILURE() << "no progress at " << offset;
        break;
      }
      offset = chunk->offset + chunk->bytes.size();
    }
    return gaps;
  }

  std::string dir_;
};

TEST_F(SpoolTest, CreatesAPrivateFileAndNeverAdoptsAnExistingOne) {
  auto spool = Make(1024);
  ASSERT_TRUE(spool);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/p1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(spool->path(), dir_ + "/p1");
  EXPECT_EQ(spool->disk_bytes(), kSpoolHeaderBytes);

  auto again = Spool::Create(dir_, "p1", 1024);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), base::Code::kInternal);

  // Its descriptor is close-on-exec: no command spawned meanwhile inherits it.
  int found = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec) != spool->path()) continue;
    ++found;
    const int fd = std::stoi(e.path().filename().string());
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  }
  EXPECT_EQ(found, 1);
}

TEST_F(SpoolTest, RejectsIdsThatAreNotOneFileNameAndTinyBounds) {
  for (const char* id : {"", ".", "..", "a/b", "../x"}) {
    auto spool = Spool::Create(dir_, id, 1024);
    ASSERT_FALSE(spool.ok()) << id;
    EXPECT_EQ(spool.status().code(), base::Code::kInvalidArgument) << id;
  }
  EXPECT_FALSE(Spool::Create(dir_, "x", 1).ok());
  auto missing_dir = Spool::Create(dir_ + "/none", "x", 1024);
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.status().message().find("No such file"), std::string::npos);
}

TEST_F(SpoolTest, TheCountLagsByAQuarterRingAtMost) {
  EXPECT_EQ(SpoolCountLag(kDefaultSpoolMaxBytes), kSpoolCountLag);
  EXPECT_EQ(SpoolCountLag(64 * 1024), 8u * 1024);
  EXPECT_EQ(SpoolCountLag(2), 1u);
}

TEST_F(SpoolTest, HeadIsOneMebibyteOrHalfOfASmallSpool) {
  EXPECT_EQ(SpoolHeadBytes(kDefaultSpoolMaxBytes), 1u << 20);
  EXPECT_EQ(SpoolHeadBytes(2u << 20), 1u << 20);
  EXPECT_EQ(SpoolHeadBytes((2u << 20) - 2), (1u << 20) - 1);
  EXPECT_EQ(SpoolHeadBytes(65536), 32768u);
}

TEST_F(SpoolTest, TenMegabytesUnderTheBoundReadBackWhole) {
  auto spool = Make(kDefaultSpoolMaxBytes);
  Feed(*spool, 10'000'000, 65536);
  EXPECT_EQ(spool->total(), 10'000'000u);
  EXPECT_EQ(spool->disk_bytes(), kSpoolHeaderBytes + 10'000'000u);
  EXPECT_TRUE(ReadAllChecked(*spool, 0, 65536).empty());
}

TEST_F(SpoolTest, TenMegabytesThroughABoundedSpoolKeepHeadAndRingAndReportTheGap) {
  const std::uint64_t max = 1 << 20, head = max / 2, ring = max - head, n = 10'000'000;
  auto spool = Make(max);
  std::mt19937 rng(7);
  std::uint64_t written = 0;
  while (written < n) {
    const std::uint64_t k = std::min<std::uint64_t>(1 + rng() % 70000, n - written);
    ASSERT_TRUE(spool->Append(Stream(written, k)).ok());
    written += k;
  }
  EXPECT_EQ(spool->total(), n);
  EXPECT_EQ(spool->disk_bytes(), kSpoolHeaderBytes + max);
  EXPECT_EQ(spool->FirstKeptAtOrAfter(head - 1), head - 1);
  EXPECT_EQ(spool->FirstKeptAtOrAfter(head), n - ring);
  EXPECT_EQ(spool->FirstKeptAtOrAfter(n), n);

  const auto gaps = ReadAllChecked(*spool, 0, 65536);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0], (Gap{head, n - ring}));

  // The head ends at a hole: nothing will ever follow its last byte contiguously.
  auto end_of_head = spool->Read(head - 10, 65536);
  ASSERT_TRUE(end_of_head.ok());
  EXPECT_EQ(end_of_head->bytes.size(), 10u);
  EXPECT_TRUE(end_of_head->hole_after);
  auto in_middle = spool->Read(5'000'000, 100);
  ASSERT_TRUE(in_middle.ok());
  EXPECT_EQ(in_middle->offset, n - ring);
  EXPECT_EQ(in_middle->gap, (Gap{5'000'000, n - ring}));
  EXPECT_FALSE(in_middle->hole_after);
  EXPECT_EQ(in_middle->bytes, Stream(n - ring, 100));
}

TEST_F(SpoolTest, WrapBoundariesKeepExactlyTheLastRingBytes) {
  const std::uint64_t max = 16, head = 8, ring = 8;
  for (std::uint64_t n : {max - 1, max, max + 1, 2 * max, 3 * max + 5, 1000 * ring + 3}) {
    for (std::size_t write_size : {1, 3, 8, 9, 100}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " write_size=" + std::to_string(write_size));
      const std::string id = "w" + std::to_string(n) + "_" + std::to_string(write_size);
      auto spool = Make(max, id);
      Feed(*spool, n, write_size);
      const auto gaps = ReadAllChecked(*spool, 0, 5);
      if (n <= max) {
        EXPECT_TRUE(gaps.empty());
      } else {
        ASSERT_EQ(gaps.size(), 1u);
        EXPECT_EQ(gaps[0], (Gap{head, n - ring}));
      }
      // One read of everything kept past the head, across the physical end of the ring.
      if (n > max) {
        auto tail = spool->Read(head, 100);
        ASSERT_TRUE(tail.ok());
        EXPECT_EQ(tail->bytes, Stream(n - ring, ring));
      }
      spool->Remove();
    }
  }
}

TEST_F(SpoolTest, ReadsAtTheEndOrPastItAreAnsweredPrecisely) {
  auto spool = Make(1024);
  Feed(*spool, 100, 100);
  auto at_end = spool->Read(100, 10);
  ASSERT_TRUE(at_end.ok());
  EXPECT_EQ(at_end->offset, 100u);
  EXPECT_TRUE(at_end->bytes.empty());
  EXPECT_FALSE(at_end->gap);
  EXPECT_FALSE(at_end->hole_after);
  auto past = spool->Read(101, 10);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(past.status().message(), "Invalid offset.");
  auto none = spool->Read(10, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->bytes.empty());
  EXPECT_EQ(none->offset, 10u);
}

TEST_F(SpoolTest, ReopenedAfterACleanCloseServesTheSameBytes) {
  {
    auto spool = Make(4096);
    Feed(*spool, 10000, 333);
  }
  auto spool = Spool::Open(dir_, "p1");
  EXPECT_EQ(spool->error(), "");
  EXPECT_EQ(spool->total(), 10000u);
  EXPECT_EQ(spool->max_bytes(), 4096u);
  const auto gaps = ReadAllChecked(*spool, 0, 1000);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0], (Gap{2048, 10000 - 2048}));
  EXPECT_TRUE(spool->Append("ignored").ok());
  EXPECT_EQ(spool->total(), 10000u) << "an opened spool is read-only";
}

// The writer dies without closing (as the server would if killed): the spool still serves
// exactly what it counted.
TEST_F(SpoolTest, ReopenedAfterTheWriterDiedServesWhatItCounted) {
  const std::uint64_t max = 1 << 20, head = max / 2, ring = max - head;
  for (std::uint64_t n : {std::uint64_t{300000}, std::uint64_t{5'000'000}}) {
    SCOPED_TRACE(n);
    const std::string id = "crash" + std::to_string(n);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto spool = Spool::Create(dir_, id, max);
      if (!spool.ok()) ::_exit(1);
      for (std::uint64_t at = 0; at < n; at += 4096) {
        if (!spool.value()->Append(Stream(at, std::min<std::uint64_t>(4096, n - at))).ok()) {
          ::_exit(2);
        }
      }
      ::kill(::getpid(), SIGKILL);  // no destructor, no clean close
      ::_exit(3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;

    auto spool = Spool::Open(dir_, id);
    EXPECT_EQ(spool->error(), "");
    const auto gaps = ReadAllChecked(*spool, 0, 65536);
    if (n <= max) {
      EXPECT_EQ(spool->total(), n) << "not wrapped: every byte written is found";
      EXPECT_TRUE(gaps.empty());
    } else {
      // Wrapped: what the header counted, and not the oldest ring bytes that uncounted writes
      // may have overwritten.
      const std::uint64_t lag = SpoolCountLag(max);
      EXPECT_LE(spool->total(), n);
      EXPECT_GE(spool->total(), n - lag);
      ASSERT_EQ(gaps.size(), 1u);
      EXPECT_EQ(gaps[0], (Gap{head, spool->total() - ring + lag}));
    }
  }
}

// What an append interrupted between its data and its count leaves: ring slots overwritten
// ahead of the count. A reopened spool must not serve the bytes they held.
TEST_F(SpoolTest, ReopenedAfterAnInterruptedAppendSkipsOverwrittenRingBytes) {
  const std::uint64_t max = 1 << 20, head = max / 2, ring = max - head, n = 3'000'000;
  {
    auto spool = Make(max);
    Feed(*spool, n, 65536);
  }
  // Clear the clean flag and overwrite the slots the next piece would take.
  const std::string path = dir_ + "/p1";
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const std::uint64_t flags = 0;
  ASSERT_EQ(::pwrite(fd, &flags, 8, 24), 8);
  const std::uint64_t lag = SpoolCountLag(max);
  const std::string junk(lag, '#');
  const std::uint64_t slot = kSpoolHeaderBytes + head + (n - head) % ring;
  const std::uint64_t first = std::min<std::uint64_t>(junk.size(), kSpoolHeaderBytes + max - slot);
  ASSERT_EQ(::pwrite(fd, junk.data(), first, slot), static_cast<ssize_t>(first));
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size() - first, kSpoolHeaderBytes + head),
            static_cast<ssize_t>(junk.size() - first));
  ::close(fd);

  auto spool = Spool::Open(dir_, "p1");
  EXPECT_EQ(spool->total(), n);
  const auto gaps = ReadAllChecked(*spool, 0, 65536);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0], (Gap{head, n - ring + lag}));
}

TEST_F(SpoolTest, AMissingOrDamagedFileOpensAsAnEmptyOrPartialSpool) {
  auto missing = Spool::Open(dir_, "nothing");
  EXPECT_NE(missing->error().find("No such file"), std::string::npos) << missing->error();
  EXPECT_EQ(missing->total(), 0u);
  EXPECT_EQ(missing->disk_bytes(), 0u);
  auto read = missing->Read(0, 10);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->bytes.empty());

  {
    std::FILE* f = std::fopen((dir_ + "/junk").c_str(), "w");
    std::fputs("not a spool at all, but long enough to be read as a header of sixty-four b", f);
    std::fclose(f);
  }
  auto junk = Spool::Open(dir_, "junk");
  EXPECT_NE(junk->error(), "");
  EXPECT_EQ(junk->total(), 0u);
  EXPECT_FALSE(Spool::Open(dir_, "../x")->error().empty());

  {
    auto spool = Make(1 << 20, "short");
    Feed(*spool, 5000, 1000);
  }
  ASSERT_EQ(::truncate((dir_ + "/short").c_str(), kSpoolHeaderBytes + 3000), 0);
  auto shortened = Spool::Open(dir_, "short");
  EXPECT_NE(shortened->error(), "");
  EXPECT_EQ(shortened->total(), 3000u);
  EXPECT_TRUE(ReadAllChecked(*shortened, 0, 1000).empty());
}

TEST_F(SpoolTest, AFailedWriteMakesTheSpoolFailedButEveryByteIsCounted) {
  auto spool = Make(1 << 20);
  Feed(*spool, 1000, 1000);
  sys::InjectFault(sys::Call::kSpoolWrite, ENOSPC);
  auto status = spool->Append(Stream(1000, 500));
  EXPECT_FALSE(status.ok());
  EXPECT_NE(spool->error().find("No space left on device"), std::string::npos) << spool->error();
  EXPECT_TRUE(spool->Append(Stream(1500, 500)).ok()) << "reported once";
  EXPECT_EQ(spool->total(), 2000u);
  EXPECT_EQ(spool->stored(), 1000u);

  auto before = spool->Read(900, 1000);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->bytes, Stream(900, 100));
  EXPECT_TRUE(before->hole_after);
  auto lost = spool->Read(1200, 1000);
  ASSERT_TRUE(lost.ok());
  EXPECT_TRUE(lost->bytes.empty());
  EXPECT_EQ(lost->offset, 2000u);
  EXPECT_EQ(lost->gap, (Gap{1200, 2000}));

  spool.reset();
  auto reopened = Spool::Open(dir_, "p1");
  EXPECT_NE(reopened->error().find("failed"), std::string::npos) << reopened->error();
  EXPECT_EQ(reopened->total(), 1000u);
  EXPECT_TRUE(ReadAllChecked(*reopened, 0, 300).empty());
}

TEST_F(SpoolTest, AFullFileSystemFailsTheSpoolCleanly) {
  const std::string mnt = dir_ + "/mnt";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  {
    auto created = Spool::Create(mnt, "full", 1 << 20);
    ASSERT_TRUE(created.ok());
    Spool& spool = *created.value();
    std::uint64_t at = 0;
    int failures = 0;
    while (at < 400000) {
      if (!spool.Append(Stream(at, 1000)).ok()) ++failures;
      at += 1000;
    }
    EXPECT_EQ(failures, 1);
    EXPECT_NE(spool.error().find("No space left on device"), std::string::npos) << spool.error();
    EXPECT_EQ(spool.total(), 400000u);
    EXPECT_LT(spool.stored(), 70000u);
    EXPECT_GT(spool.stored(), 0u);
    const auto gaps = ReadAllChecked(spool, 0, 4096);
    ASSERT_EQ(gaps.size(), 1u);
    EXPECT_EQ(gaps[0], (Gap{spool.stored(), 400000}));
  }
  EXPECT_EQ(::umount(mnt.c_str()), 0);
}

TEST_F(SpoolTest, AFileDeletedUnderTheSpoolLosesNothingWhileItLives) {
  auto spool = Make(4096);
  Feed(*spool, 3000, 100);
  ASSERT_EQ(::unlink((dir_ + "/p1").c_str()), 0);
  Feed(*spool, 7000, 100);
  EXPECT_EQ(spool->error(), "");
  const auto gaps = ReadAllChecked(*spool, 0, 512);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0], (Gap{2048, 10000 - 2048}));
  spool->Remove();  // already gone: fine
  EXPECT_FALSE(Spool::Open(dir_, "p1")->error().empty());
}

TEST_F(SpoolTest, RemoveUnlinksAndTheDestructorDoesNot) {
  Make(1024, "kept");
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/kept"));
  auto spool = Make(1024, "gone");
  Feed(*spool, 10, 10);
  spool->Remove();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/gone"));
  auto chunk = spool->Read(0, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->bytes, Stream(0, 10));
}

}  // namespace
}  // namespace corral::store
