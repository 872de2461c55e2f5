#include "cli/session.h"

#include <poll.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>

namespace corral::cli {
namespace json = boost::json;
namespace {

// Writes all of `data` to stdout (a terminal in raw mode takes it as it is).
void WriteAll(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

std::size_t CompleteUtf8Prefix(std::string_view data) {
  // Look back over at most 3 continuation bytes for the lead byte of the last character.
  std::size_t i = data.size();
  std::size_t continuation = 0;
  while (i > 0 && continuation < 3 && (static_cast<unsigned char>(data[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++continuation;
  }
  if (i == 0) return data.size();
  const auto lead = static_cast<unsigned char>(data[i - 1]);
  std::size_t length = 1;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
  }
  // Not a lead byte (ASCII, stray continuation bytes): nothing to wait for.
  if (length == 1 || continuation + 1 >= length) return data.size();
  return i - 1;
}

InputForwarder::InputForwarder(client::Destination destination, std::string id,
                               std::function<bool()> take_resized)
    : destination_(std::move(destination)),
      id_(std::move(id)),
      take_resized_(std::move(take_resized)) {
  thread_ = std::jthread([this](std::stop_token stop) { Forward(stop); });
}

InputForwarder::~InputForwarder() {
  thread_.request_stop();
  thread_.join();
}

void InputForwarder::Forward(std::stop_token stop) {
  client::HttpClient http(destination_);
  client::CorralClient api(http);
  // Sends `data` (and the close), waiting out a full queue; false when no more input is taken.
  const auto send = [&](std::string_view data, bool close) {
    for (;;) {
      auto sent = api.Input(id_, data, close);
      if (sent.ok()) return true;
      if (sent.status().code() != base::Code::kResourceExhausted || stop.stop_requested()) {
        // 409: the command ended or closed its stdin; there is nobody left to tell.
        if (sent.status().code() != base::Code::kFailedPrecondition) {
          std::fprintf(stderr, "corral: input not forwarded: %s\r\n",
                       sent.status().message().c_str());
        }
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  std::string pending;
  char buffer[64 * 1024];
  while (!stop.stop_requested()) {
    if (take_resized_ && take_resized_()) {
      auto size = TerminalSize(STDIN_FILENO);
      if (!size) size = TerminalSize(STDOUT_FILENO);
      if (size) (void)api.Resize(id_, size->first, size->second);
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) continue;
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {  // EOF (or a stdin that cannot be read): the remote stdin ends too
      send(pending, /*close=*/true);
      return;
    }
    pending.append(buffer, static_cast<std::size_t>(n));
    const std::size_t complete = CompleteUtf8Prefix(pending);
    if (complete == 0) continue;
    if (!send(std::string_view(pending).substr(0, complete), /*close=*/false)) return;
    pending.erase(0, complete);
  }
}

int TerminalSession(client::CorralClient& api, const client::Destination& destination,
                    const std::string& id, std::uint64_t offset, TerminalSignals& signals,
                    std::optional<std::chrono::steady_clock::time_point> deadline) {
  int status = 0;
  std::string note;
  {
    RawMode raw(STDIN_FILENO);
    InputForwarder forward(destination, id, [&signals] { return signals.TakeResized(); });
    auto last = api.Follow(id, &offset, /*clean=*/false, deadline, signals.stop_token(),
                           [](const json::object& read) {
                             const auto& data = read.at("data").as_string();
                             WriteAll({data.data(), data.size()});
                           });
    if (!last.ok() && signals.stop_token().stop_requested()) {
      status = 128 + signals.signal();
      note = "corral: detached; process " + id + " keeps running: `corral attach " + id +
             "` to return to it\n";
    } else if (!last.ok()) {
      status = 125;
      note = "corral: " + last.status().message() + "\n";
    } else if (last->at("running").as_bool()) {
      status = 124;
      note = "corral: process " + id + " is still running (it was not stopped): `corral attach " +
             id + "` to return to it\n";
    } else {
      status = client::ShellExitStatus(*last);
    }
  }  // the forwarder stops, then the terminal is restored: now messages read as lines again
  if (!note.empty()) std::fputs(note.c_str(), stderr);
  return status;
}

}  // namespace corral::cli
