#pragma once

#include <sys/types.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "proc/output_buffer.h"
#include "proc/process_input.h"
#include "proc/spool_text.h"
#include "store/spool.h"
#include "sys/child.h"
#include "sys/input_wait.h"
#include "sys/pty.h"
#include "sys/spawn.h"

namespace corral::proc {

// Why a done process ended (DESIGN §7.3).
enum class EndedBy {
  kExit,      // it ended by itself
  kSignal,    // a signal that no request sent
  kClient,    // after a `signal` request
  kDeadline,  // its run deadline passed
  kShutdown,  // the server shut down
  kLost,      // the server died while it ran
};
std::string_view EndedByName(EndedBy e);

// What the command's stdin is, as answers name it: "null", "pipe", "tty".
std::string_view StdinName(sys::StdinMode mode);

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
        done_event_(ex),
        output_event_(ex),
        deadline_(ex),
        state_event_(ex) {}

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
  // Why it ended; nullopt while running.
  std::optional<EndedBy> ended_by() const;
  // The Idempotency-Key it was started with (empty: none), and the digest of its request.
  const std::string& idempotency_key() const { return idempotency_key_; }
  const std::string& request_digest() const { return request_digest_; }
  // Its run deadline (StartSpec::timeout), zero without one; kept by the journal.
  std::chrono::milliseconds timeout() const { return timeout_; }

  // The output so far, in memory. Bytes that leftovers (`cmd &`) write after the process is
  // done still arrive here until the pipe's end of file. Once the output is complete and its
  // spool holds it, the table drops this buffer (it is then empty): use RenderOutput.
  const OutputBuffer& output() const { return output_; }
  // Every byte the command wrote so far (the spool's and the buffer's count).
  std::uint64_t total_bytes() const { return total_bytes_; }
  // The output is complete: done, and its pipe at end of file (or the process forgotten, after
  // which nothing of it is kept).
  bool output_complete() const { return done_ && (!pipe_.is_open() || forgotten_); }
  // The spool of the output to read from: the live one while the output may grow, else the
  // file reopened read-only (store::Spool::Open: a file gone or damaged gives a spool with its
  // error set). Null when it could not be created (spool_error() says why) or the table keeps
  // no spools.
  std::shared_ptr<const store::Spool> spool() const;
  // Why the spool could not be made or failed; empty when it is fine (or there is none).
  std::string spool_error() const;
  // `output` (§3), or with View::kClean its clean view: from the live buffer, or read back from
  // the spool once the table dropped it (empty when the file is gone or damaged since).
  base::Result<RenderedOutput> RenderOutput(View view) const;

  // Talking to the command (DESIGN §7.3; process_waiting.cc). Where its stdin comes from (kept
  // by the journal); nullopt when not known (restored from a journal row that names no mode).
  std::optional<sys::StdinMode> stdin_mode() const { return stdin_mode_; }
  // Whether it blocks reading its stdin pipe or terminal, as last measured
  // (ProcessTable::RefreshWaiting); nullopt where it does not apply: done, or stdin "null".
  std::optional<bool> waiting_for_input() const {
    if (done_ || !input_identity_) return std::nullopt;
    return waiting_;
  }

  // The `output` event a stream sent last from the growing output (api::NextStreamStep): the
  // chunk read from `offset` when the output had `total` bytes, encoded, and where it ends.
  // Other followers at that offset send the same text until the output grows. A cache, not
  // state: kept on this const view (the loop thread only), dropped once the output is complete.
  struct StreamEvent {
    std::uint64_t offset = 0;
    std::uint64_t total = 0;
    std::uint64_t next_offset = 0;
    std::shared_ptr<const std::string> text;  // null: none
  };
  StreamEvent& stream_event() const { return stream_event_; }

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

  pid_t pid_ = -1;  // also the pgid: the shell leads its own group; -1 when restored from the
                    // journal (nothing of it is ours to signal)
  boost::asio::posix::stream_descriptor pidfd_;  // readable once the shell exits
  boost::asio::posix::stream_descriptor pipe_;   // the read end of stdout+stderr
  boost::asio::steady_timer grace_;              // the drain grace after the shell exited
  boost::asio::steady_timer done_event_;         // never expires; cancelled to wake waiters
  // Never expires; cancelled on each append, at the pipe's end of file and when done.
  boost::asio::steady_timer output_event_;
  bool has_cgroup_ = false;  // it runs in a cgroup of its own, named id_

  std::optional<sys::ExitStatus> exit_;  // set when the shell exits (its zombie unreaped)
  bool done_ = false;                    // exit seen, output complete or grace over, reaped
  // Done, but something of it may still live (the pipe is open, or its cgroup is populated):
  // it still counts against the cap on live processes.
  bool lingering_ = false;
  bool forgotten_ = false;  // out of the table; the pipe is drained to nowhere until its EOF
  // The last of the requests that end a command (client signal, deadline, shutdown), if any.
  std::optional<EndedBy> requested_end_;
  base::SteadyClock::time_point done_at_{};
  OutputBuffer output_;
  // The journal (process_journal.cc).
  std::string idempotency_key_;
  std::string request_digest_;
  std::uint64_t leader_start_time_ = 0;  // /proc/PID/stat field 22 of the shell
  std::uint64_t total_bytes_ = 0;
  // The live spool; closed (null) once the output is complete, so that remembered processes
  // hold no descriptors: spool() then reopens <spool_dir_>/<id_>.
  std::shared_ptr<store::Spool> spool_;
  std::string spool_dir_;               // set when the process has a spool file
  std::string spool_error_;             // why the spool could not be made, or failed
  std::uint64_t spool_disk_bytes_ = 0;  // what the closed spool takes on disk
  bool buffer_in_spool_ = false;        // output_ was dropped: the spool holds what it held
  mutable StreamEvent stream_event_;    // see stream_event()

  // The run deadline (process_deadline.cc): SIGTERM when timeout_ passes, SIGKILL kDeadlineKill
  // later to what is left.
  std::chrono::milliseconds timeout_{0};  // zero: no deadline
  boost::asio::steady_timer deadline_;
  bool deadline_passed_ = false;  // the SIGTERM was sent; deadline_ now times the SIGKILL
  // Talking to the command (process_waiting.cc).
  std::optional<sys::StdinMode> stdin_mode_;
  sys::WindowSize tty_size_{};  // the terminal's size at start (stdin_mode_ kTty), for the journal
  // The writer of its stdin pipe or terminal master (also the terminal for its ioctls); null
  // with stdin "null", released once done.
  std::shared_ptr<ProcessInput> input_;
  // What a read of its input blocks on (the pipe, or the terminal's slave); unset for "null".
  std::optional<sys::FileIdentity> input_identity_;
  bool waiting_ = false;  // waiting_for_input, as last measured at waiting_at_
  base::SteadyClock::time_point waiting_at_{};
  base::SteadyClock::time_point input_at_{};  // the last input written to its stdin
  // listening_ports, as last measured at ports_at_ (process_ports.cc).
  std::vector<std::uint16_t> ports_;
  base::SteadyClock::time_point ports_at_{};
  int input_watchers_ = 0;  // pending WaitInputState calls
  // Never expires; cancelled when waiting_for_input changes and when the process is done.
  boost::asio::steady_timer state_event_;
};

}  // namespace corral::proc
