#include "proc/process_input.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace corral::proc {
namespace {

class ProcessInputTest : public ::testing::Test {
 protected:
  ProcessInputTest() {
    ::signal(SIGPIPE, SIG_IGN);  // as the server does: a closed reader is an EPIPE
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    reader_.reset(fds[0]);
    input_ = std::make_shared<ProcessInput>(ioc_.get_executor(), base::UniqueFd(fds[1]), false);
  }

  // Everything in the pipe now.
  std::string Drain() {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(reader_.get(), buf, sizeof buf)) > 0;) out.append(buf, n);
    return out;
  }

  boost::asio::io_context ioc_{1};
  base::UniqueFd reader_;
  std::shared_ptr<ProcessInput> input_;
};

TEST_F(ProcessInputTest, WritesAtOnceWhatThePipeTakes) {
  ASSERT_TRUE(input_->Write("hello", false).ok());
  EXPECT_EQ(input_->queued(), 0u);
  EXPECT_EQ(Drain(), "hello");
}

TEST_F(ProcessInputTest, QueuesWhatThePipeDoesNotTakeAndSendsItAsTheReaderReads) {
  const std::string big(200 * 1024, 'x');  // more than a pipe holds
  ASSERT_TRUE(input_->Write(big, false).ok());
  EXPECT_GT(input_->queued(), 0u);
  std::string got;
  for (int i = 0; i < 1000 && got.size() < big.size(); ++i) {
    got += Drain();
    ioc_.run_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(got.size(), big.size());
  EXPECT_EQ(input_->queued(), 0u);
}

TEST_F(ProcessInputTest, RefusesWholeWhatWouldPassTheBoundOfTheQueue) {
  const std::string chunk(256 * 1024, 'y');
  int accepted = 0;
  base::Status last;
  while ((last = input_->Write(chunk, false)).ok()) ++accepted;
  EXPECT_EQ(last.code(), base::Code::kResourceExhausted);
  const std::size_t queued = input_->queued();
  EXPECT_LE(queued, kMaxQueuedInputBytes);
  EXPECT_EQ(Drain().size() + input_->queued(), accepted * chunk.size());
  EXPECT_TRUE(input_->open());
}

TEST_F(ProcessInputTest, CloseEndsThePipeAfterTheQueuedData) {
  ASSERT_TRUE(input_->Write("last", true).ok());
  EXPECT_FALSE(input_->open());
  EXPECT_EQ(input_->fd(), -1);
  EXPECT_EQ(Drain(), "last");
  char c;
  EXPECT_EQ(::read(reader_.get(), &c, 1), 0) << "end of file";
  EXPECT_EQ(input_->Write("more", false).code(), base::Code::kFailedPrecondition);
}

TEST_F(ProcessInputTest, AGoneReaderClosesTheInput) {
  reader_.reset();
  EXPECT_EQ(input_->Write("x", false).code(), base::Code::kFailedPrecondition);
  EXPECT_FALSE(input_->open());
}

}  // namespace
}  // namespace corral::proc
