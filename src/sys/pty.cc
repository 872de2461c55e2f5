#include "sys/pty.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

namespace corral::sys {
namespace {

std::error_code Errno() { return {errno, std::system_category()}; }

std::error_code SetLoginModes(int fd) {
  termios modes{};
  if (::tcgetattr(fd, &modes) != 0) return Errno();
  modes.c_iflag = ICRNL | IUTF8;
  modes.c_oflag = OPOST | ONLCR;
  modes.c_cflag = (modes.c_cflag & ~(CSIZE | PARENB)) | CS8 | CREAD;
  modes.c_lflag = ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
  modes.c_cc[VINTR] = 0x03;   // ^C
  modes.c_cc[VQUIT] = 0x1c;   // ^backslash
  modes.c_cc[VERASE] = 0x7f;  // DEL, what terminals send for Backspace
  modes.c_cc[VKILL] = 0x15;   // ^U
  modes.c_cc[VEOF] = 0x04;    // ^D
  modes.c_cc[VSUSP] = 0x1a;   // ^Z
  modes.c_cc[VMIN] = 1;
  modes.c_cc[VTIME] = 0;
  return ::tcsetattr(fd, TCSANOW, &modes) == 0 ? std::error_code{} : Errno();
}

}  // namespace

std::error_code OpenPty(WindowSize size, Pty& out) {
  Pty pty;
  pty.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) return Errno();
  if (::grantpt(pty.master.get()) != 0 || ::unlockpt(pty.master.get()) != 0) return Errno();
  const int flags = ::fcntl(pty.master.get(), F_GETFL);
  if (flags < 0 || ::fcntl(pty.master.get(), F_SETFL, flags | O_NONBLOCK) != 0) return Errno();
  char path[64];
  if (int rc = ::ptsname_r(pty.master.get(), path, sizeof path); rc != 0) {
    return {rc, std::system_category()};
  }
  pty.slave_path = path;
  // TIOCGPTPEER opens the slave that belongs to this master even where /dev/pts is not the
  // devpts instance of our /dev/ptmx (a container); the path is the fallback for old kernels.
  pty.slave.reset(::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) pty.slave.reset(::open(path, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) return Errno();
  if (auto error = SetLoginModes(pty.slave.get())) return error;
  if (auto error = ResizePty(pty.master.get(), size)) return error;
  out = std::move(pty);
  return {};
}

std::error_code ResizePty(int master, WindowSize size) {
  winsize ws{};
  ws.ws_row = size.rows;
  ws.ws_col = size.cols;
  return ::ioctl(master, TIOCSWINSZ, &ws) == 0 ? std::error_code{} : Errno();
}

std::error_code GetWindowSize(int master, WindowSize& out) {
  winsize ws{};
  if (::ioctl(master, TIOCGWINSZ, &ws) != 0) return Errno();
  out = {ws.ws_row, ws.ws_col};
  return {};
}

std::error_code ForegroundGroup(int master, pid_t& out) {
  pid_t pgid = 0;
  if (::ioctl(master, TIOCGPGRP, &pgid) != 0) return Errno();
  out = pgid;
  return {};
}

std::error_code EofChar(int master, char& out) {
  termios modes{};
  // On a master, the terminal ioctls read the slave's modes.
  if (::tcgetattr(master, &modes) != 0) return Errno();
  out = static_cast<char>(modes.c_cc[VEOF]);
  return {};
}

}  // namespace corral::sys
