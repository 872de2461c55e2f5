#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/unique_fd.h"

namespace corral::store {

// The bound of one spool by default (--spool-max).
inline constexpr std::uint64_t kDefaultSpoolMaxBytes = 64ull << 20;
// How much of the start of the output a bounded spool keeps (how a command started matters
// most): 1 MiB, or half the spool when the spool is under twice that.
inline constexpr std::uint64_t kSpoolHeadBytes = 1ull << 20;
// The smallest bound Create accepts: a head and a ring of at least one byte each.
inline constexpr std::uint64_t kMinSpoolMaxBytes = 2;
// The count of bytes written in the file's header lags the data by at most this many bytes (a
// quarter of the ring when that is less; see SpoolCountLag): it is rewritten whenever the data
// would otherwise get further ahead. One 8-byte pwrite per that many bytes instead of one per
// append; what it costs is bounded below (see Spool, crash safety).
inline constexpr std::uint64_t kSpoolCountLag = 256 * 1024;
// The file starts with a header of this size (magic, layout, total stored, flags); the output
// follows it.
inline constexpr std::size_t kSpoolHeaderBytes = 64;

// The kept head of a spool bounded at `max_bytes`.
constexpr std::uint64_t SpoolHeadBytes(std::uint64_t max_bytes) {
  return max_bytes < 2 * kSpoolHeadBytes ? max_bytes / 2 : kSpoolHeadBytes;
}

// How far the header's count may lag the data in a spool bounded at `max_bytes`.
constexpr std::uint64_t SpoolCountLag(std::uint64_t max_bytes) {
  const std::uint64_t quarter_ring = (max_bytes - SpoolHeadBytes(max_bytes)) / 4;
  return quarter_ring < 1 ? 1 : quarter_ring < kSpoolCountLag ? quarter_ring : kSpoolCountLag;
}

// A range of output offsets [from, to) that a read skipped because it is not on disk.
struct Gap {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  bool operator==(const Gap&) const = default;
};

// What Spool::Read returns.
struct SpoolChunk {
  std::string bytes;         // raw output bytes, from `offset` on, contiguous
  std::uint64_t offset = 0;  // the offset of bytes[0]: the requested one, or past a gap
  std::optional<Gap> gap;    // set iff offset > the requested offset: {requested, offset}
  // The byte right after `bytes` is not on disk (dropped, or never stored) although the output
  // goes on: nothing will ever complete a character cut at the end of `bytes`, so a reader
  // must treat that end as final. False when `bytes` ends at total() or at the limit.
  bool hole_after = false;
};

// One command's output, appended to a file <dir>/<id> at absolute offsets that are never reused.
//
// Bounded by max_bytes: the first SpoolHeadBytes(max_bytes) bytes of the output are kept
// ("the head"), then a ring of the most recent max_bytes - head bytes. The file never grows
// past kSpoolHeaderBytes + max_bytes. Offsets stay absolute: a byte's offset is its position
// in the output, whatever the ring did with it.
//
// Failure is contained: when a write fails (ENOSPC, EIO...) the spool becomes failed for good:
// error() says why, later appends write nothing, yet total() still counts every byte offered.
// The bytes [stored(), total()) are lost; a read reports them as a gap (see Read). Deleting
// the file under a live spool loses nothing while it lives: it writes and reads through its
// descriptor (the disk space then stays taken until the spool is destroyed).
//
// Crash safety: a spool closed cleanly reopens exactly as it was. One whose writer died (even
// killed mid-append) reopens with every byte written while its ring had not wrapped yet (the
// file's size tells); once wrapped, with the bytes its header counted, which may miss up to
// SpoolCountLag of the newest, and without up to as many of the oldest ring bytes (the
// uncounted writes may have overwritten them). Either way what it serves is what was written
// at those offsets. No fsync: after a power loss the content is whatever the file system kept.
//
// Not thread-safe: one thread, or a lock around every call. Read is const and uses pread only,
// so concurrent Reads with no concurrent Append are fine.
class Spool {
 public:
  // Creates <dir>/<id> (mode 0600, O_EXCL: an existing file is an error) for a new command.
  // REQUIRES: dir exists. max_bytes >= kMinSpoolMaxBytes. id is a single path component.
  // Errors: kInvalidArgument for a bad id or bound, kInternal when the file cannot be made.
  static base::Result<std::unique_ptr<Spool>> Create(const std::string& dir, const std::string& id,
                                                     std::uint64_t max_bytes);

  // Reopens <dir>/<id> read-only, e.g. after a server restart, to serve reads of a done
  // process. Never fails: a missing, foreign or damaged file yields a spool with error() set
  // and whatever it could still trust (total() 0 when the header is unreadable; a file shorter
  // than its header says keeps only what is in it).
  static std::unique_ptr<Spool> Open(const std::string& dir, const std::string& id);

  // Closes the file (without unlinking it); a live spool marks it closed cleanly.
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends bytes at offset total(). Returns a non-ok Status (kInternal) exactly once: on the
  // append whose write failed, which makes the spool failed (log it then); every other call
  // returns ok, the appends of a failed spool doing nothing but count.
  // REQUIRES: the spool was made by Create (an opened spool ignores appends).
  base::Status Append(std::string_view bytes);

  // Every byte offered to Append (for an opened spool: every byte stored before it closed).
  std::uint64_t total() const { return total_; }
  // The bytes written to disk in order: total() unless the spool failed.
  std::uint64_t stored() const { return stored_; }
  // The size of the file: the header and the output bytes it holds (at most max_bytes). What
  // a bound on the total spool disk (--spool-total) adds up.
  std::uint64_t disk_bytes() const;
  std::uint64_t max_bytes() const { return max_bytes_; }
  // Why the spool failed or could not be opened; empty when fine.
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

  // The first offset >= `offset` whose byte is on disk, or stored() when none is (the bytes
  // [stored(), total()) are lost, and offset total() has no byte yet).
  std::uint64_t FirstKeptAtOrAfter(std::uint64_t offset) const;

  // Up to `limit` contiguous bytes from the first kept offset >= `offset`. A read stops where
  // the kept bytes stop (the end of the head before a dropped middle, or stored()), reporting
  // hole_after. A read at or past stored() of a failed spool returns no bytes, offset total()
  // and the gap {offset, total()} when offset < total(). A read at total() returns nothing.
  // Errors: kInvalidArgument "Invalid offset." when offset > total(); kInternal when the file
  // cannot be read or is shorter than it should be (damaged under us).
  base::Result<SpoolChunk> Read(std::uint64_t offset, std::size_t limit) const;

  // Unlinks the file (a missing file is fine). The spool goes on serving from its descriptor.
  void Remove();

 private:
  Spool(std::string path, base::UniqueFd fd, std::uint64_t max_bytes, bool writable);

  std::uint64_t head_bytes() const { return head_; }
  std::uint64_t ring_bytes() const { return max_bytes_ - head_; }
  std::uint64_t count_lag() const { return SpoolCountLag(max_bytes_); }
  // Where output offset q (kept) lives in the file.
  std::uint64_t FilePosition(std::uint64_t q) const;
  // The first output offset of the kept ring (meaningful when stored_ > head_).
  std::uint64_t RingStart() const;
  bool WriteCount();
  void WriteHeader(bool clean);
  void Fail(const std::string& what);

  std::string path_;
  base::UniqueFd fd_;
  std::uint64_t max_bytes_;
  std::uint64_t head_;
  bool writable_;
  std::uint64_t total_ = 0;
  std::uint64_t stored_ = 0;
  std::uint64_t counted_ = 0;  // the count the header holds
  // Oldest ring bytes an unclean close may have overwritten (Open only).
  std::uint64_t ring_slack_ = 0;
  std::string error_;
};

}  // namespace corral::store
