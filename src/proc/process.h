#pragma once

#include <sys/types.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "proc/output_buffer.h"
#include "sys/child.h"

namespace corral::proc {

// One command started by the server. The ProcessTable owns it and is the only writer; readers
// (the api layer) see it through const accessors on the loop thread.
class Process {
 public:
  Process(boost::asio::any_io_executor ex, std::string id, std::uint64_t sequence)
      : id_(std::move(id)),
        sequence_(sequence),
        pidfd_(ex),
        pipe_(ex),
        grace_(ex),
        done_event_(ex) {}

  const std::string& id() const { return id_; }
  const std::string& chat_id() const { return chat_id_; }  // empty: started without a chat
  const std::string& command() const { return command_; }
  const std::string& workdir() const { return workdir_; }
  bool background() const { return background_; }
  std::int64_t started_at_unix() const { return started_at_unix_; }
  // Start order, for sorting processes started within the same second.
  std::uint64_t sequence() const { return sequence_; }

  // A process is running until its shell has exited and its output is complete: the pipe hit
  // end of file, or the drain grace after the shell's exit ran out.
  bool running() const { return !done_; }
  // The shell's status; set once the process is done.
  const std::optional<sys::ExitStatus>& exit_status() const { return done_ ? exit_ : kNoExit; }
  std::int64_t exited_at_unix() const { return exited_at_unix_; }
  // Why it ended, once done: "signal" when a signal ended its shell, else "exit".
  std::string_view ended_by() const { return exit_ && exit_->signaled ? "signal" : "exit"; }

  const OutputBuffer& output() const { return output_; }

  // A slot where a reader may keep what it derived from the output (the api layer keeps its
  // encoded answer), valid while output().total() and running() are what they were then. A done
  // process's output never changes, so its answer is computed once however often it is read.
  struct DerivedCache {
    std::shared_ptr<const std::string> value;
    std::uint64_t total = 0;
    bool running = true;
    bool valid = false;
  };
  DerivedCache& derived_cache() const { return derived_cache_; }

 private:
  friend class ProcessTable;
  static inline const std::optional<sys::ExitStatus> kNoExit;

  std::string id_;
  std::uint64_t sequence_;
  std::string chat_id_;
  std::string command_;
  std::string workdir_;
  bool background_ = false;
  std::int64_t started_at_unix_ = 0;
  std::int64_t exited_at_unix_ = 0;

  pid_t pid_ = -1;                               // also the pgid: the shell leads its own group
  boost::asio::posix::stream_descriptor pidfd_;  // readable once the shell exits
  boost::asio::posix::stream_descriptor pipe_;   // the read end of stdout+stderr
  boost::asio::steady_timer grace_;              // the drain grace after the shell exited
  boost::asio::steady_timer done_event_;         // never expires; cancelled to wake waiters

  std::optional<sys::ExitStatus> exit_;  // set when the shell exits (its zombie unreaped)
  bool pipe_eof_ = false;
  bool done_ = false;  // exit seen, output complete, shell reaped
  base::SteadyClock::time_point done_at_{};
  OutputBuffer output_;
  mutable DerivedCache derived_cache_;
};

}  // namespace corral::proc
