#pragma once

#include <sys/types.h>

#include <string>
#include <system_error>

#include "base/unique_fd.h"

namespace corral::sys {

// A terminal's size in character cells.
struct WindowSize {
  unsigned short rows = 24;
  unsigned short cols = 80;
};

// A pseudo-terminal pair: the server keeps the master, the command gets the slave.
struct Pty {
  // Non-blocking, close-on-exec. What the command writes to the terminal is read here; what is
  // written here is the command's keyboard input.
  //
  // End of output: once every process has closed the slave (the command and all it started
  // have exited, and the server has closed `slave`), read() returns what is still buffered and
  // then fails with EIO, not 0: the caller must treat EIO as end of file. Until the server's
  // own `slave` is closed, no EIO ever comes: close it right after the spawn.
  base::UniqueFd master;
  // Close-on-exec, opened without making it our controlling terminal (O_NOCTTY). Take its
  // IdentityOf (sys/input_wait.h), the input that WaitingForInput looks for, before closing it.
  base::UniqueFd slave;
  std::string slave_path;  // "/dev/pts/N"
};

// Opens a pseudo-terminal pair with window size `size` and the modes of a login terminal:
// canonical input with line editing (ICANON), echo (ECHO), signals from the keyboard (ISIG:
// ^C SIGINT, ^\ SIGQUIT, ^Z SIGTSTP to the foreground group), CR read as NL (ICRNL), NL written
// as CRLF (ONLCR), UTF-8 aware erase (IUTF8), 8-bit characters. Output flow control (IXON) is
// off: a stray ^S in the input would freeze all output with no one at a keyboard to type ^Q.
// On failure nothing is left open.
//
// How the child makes the slave its controlling terminal, stdin, stdout and stderr (in the
// child after fork/clone, before exec; all async-signal-safe):
//   setsid();                          // a new session without a controlling terminal,
//                                      // and a new process group led by the child
//   ioctl(slave, TIOCSCTTY, 0);        // the slave becomes the session's controlling
//                                      // terminal; its foreground group is the child's
//   dup2(slave, 0); dup2(slave, 1); dup2(slave, 2);
//   if (slave > 2) close(slave);       // (both fds are close-on-exec anyway)
// The master must not reach the child (close-on-exec sees to it): a command holding the master
// would keep its own terminal from ever reporting end of output.
std::error_code OpenPty(WindowSize size, Pty& out);

// Sets the terminal's window size (TIOCSWINSZ on the master). When it changes, the kernel
// sends SIGWINCH to the terminal's foreground process group.
std::error_code ResizePty(int master, WindowSize size);

// The terminal's window size.
std::error_code GetWindowSize(int master, WindowSize& out);

// The terminal's foreground process group (TIOCGPGRP on the master): the job that reads the
// keyboard and gets the ^C. 0 until a session has made it its controlling terminal.
std::error_code ForegroundGroup(int master, pid_t& out);

// The terminal's end-of-file character (VEOF of its current modes, normally ^D), for closing a
// terminal's input: typed at the start of a line, it makes the reader's read() return 0; typed
// after a partial line it only hands that line over, so a second one is needed. Hence the
// caller closing input sends it once if the last byte it wrote was '\n' (or nothing was
// written), else twice. A program that switched the terminal to raw mode (a REPL with line
// editing, an editor) sees it as a plain byte and decides for itself.
std::error_code EofChar(int master, char& out);

}  // namespace corral::sys
