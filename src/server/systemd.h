#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace corral::server {

// A listening socket systemd passed to us (socket activation).
struct ActivatedSocket {
  int fd;
  bool is_unix;  // else TCP (IPv4 or IPv6)
};

// The listening stream sockets passed through LISTEN_FDS/LISTEN_PID, empty when the server was
// not socket-activated. Unsets those variables, so commands never inherit them, and marks the
// descriptors close-on-exec. A passed descriptor that is not a listening Unix or TCP stream
// socket is an error (in `error`; the result is then empty).
std::vector<ActivatedSocket> TakeActivatedSockets(std::string& error);

// Tells systemd (through NOTIFY_SOCKET, when set) that the server is ready: every listener is
// bound. A no-op outside systemd.
void NotifyReady();
// Tells systemd that the server is shutting down.
void NotifyStopping();

}  // namespace corral::server
