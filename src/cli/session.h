#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cli/terminal.h"
#include "client/corral_client.h"
#include "client/http_client.h"

namespace corral::cli {

// The length of the longest prefix of `data` that does not end inside a UTF-8 character: what
// can be sent now, the rest waiting for the bytes that complete it.
std::size_t CompleteUtf8Prefix(std::string_view data);

// Forwards local stdin (fd 0) to process `id`'s stdin (POST input) as it comes, on its own
// thread and connection, until local EOF (then the remote stdin is closed: a pipe's end, a
// terminal's EOF character), until the process takes no more input (409), or until destroyed.
// A full input queue (503) is waited out. When `take_resized` says so, the local terminal's
// size is sent as a resize.
class InputForwarder {
 public:
  InputForwarder(client::Destination destination, std::string id,
                 std::function<bool()> take_resized = {});
  ~InputForwarder();  // stops forwarding within about 100 ms
  InputForwarder(const InputForwarder&) = delete;
  InputForwarder& operator=(const InputForwarder&) = delete;

 private:
  void Forward(std::stop_token stop);
  client::Destination destination_;
  std::string id_;
  std::function<bool()> take_resized_;
  std::jthread thread_;
};

// A terminal session on process `id` (which runs on a terminal), as `docker exec -it`: the local
// terminal (when stdin is one) in raw mode, keystrokes forwarded as input (Ctrl-C included, as
// \u0003), window size changes forwarded, the output from `offset` written raw to stdout.
// Returns `corral`'s exit status: the command's (128+n for signal n) once it is done; 128+n
// when signal n (SIGINT, SIGTERM, SIGHUP) ended the session, leaving the command running; 124
// when `deadline` passed; 125 when corral failed. The terminal is restored on every path.
int TerminalSession(client::CorralClient& api, const client::Destination& destination,
                    const std::string& id, std::uint64_t offset, TerminalSignals& signals,
                    std::optional<std::chrono::steady_clock::time_point> deadline);

}  // namespace corral::cli
