#include "server/systemd.h"

#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cstring>

namespace corral::server {

std::vector<ActivatedSocket> TakeActivatedSockets(std::string& error) {
  const int n = sd_listen_fds(/*unset_environment=*/1);
  if (n < 0) {
    error = std::string("socket activation: ") + std::strerror(-n);
    return {};
  }
  std::vector<ActivatedSocket> sockets;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    if (sd_is_socket_unix(fd, SOCK_STREAM, /*listening=*/1, nullptr, 0) > 0) {
      sockets.push_back({fd, true});
    } else if (sd_is_socket_inet(fd, 0, SOCK_STREAM, /*listening=*/1, 0) > 0) {
      sockets.push_back({fd, false});
    } else {
      error = "socket activation: descriptor " + std::to_string(fd) +
              " is not a listening Unix or TCP stream socket (use ListenStream=)";
      return {};
    }
  }
  return sockets;
}

void NotifyReady() { sd_notify(/*unset_environment=*/0, "READY=1\nSTATUS=Serving"); }

void NotifyStopping() { sd_notify(/*unset_environment=*/0, "STOPPING=1\nSTATUS=Shutting down"); }

}  // namespace corral::server
