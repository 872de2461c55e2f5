#include "store/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sys/file_io.h"

namespace corral::store {
namespace {

// The header, in host byte order (a spool is read back by the machine that wrote it):
//   [0, 8)   magic and format version
//   [8, 16)  max_bytes: the bound the layout follows
//   [16, 24) stored: a count of output bytes written (written after them, see Append)
//   [24, 32) flags
constexpr char kMagic[8] = {'C', 'R', 'L', 'S', 'P', 'O', 'O', '1'};
constexpr std::size_t kMaxOffset = 8;
constexpr std::size_t kStoredOffset = 16;
constexpr std::size_t kFlagsOffset = 24;
constexpr std::uint64_t kClosedCleanly = 1;  // no append was in flight when it closed
constexpr std::uint64_t kFailed = 2;         // a write failed: output past `stored` was lost

void Put(char* header, std::size_t at, std::uint64_t value) {
  std::memcpy(header + at, &value, sizeof value);
}
std::uint64_t Get(const char* header, std::size_t at) {
  std::uint64_t value;
  std::memcpy(&value, header + at, sizeof value);
  return value;
}

bool IsPathComponent(const std::string& id) {
  return !id.empty() && id != "." && id != ".." && id.find('/') == std::string::npos &&
         id.find('\0') == std::string::npos;
}

std::string Why(const std::error_code& ec) { return ec.message(); }

}  // namespace

Spool::Spool(std::string path, base::UniqueFd fd, std::uint64_t max_bytes, bool writable)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      max_bytes_(max_bytes),
      head_(SpoolHeadBytes(max_bytes)),
      writable_(writable) {}

Spool::~Spool() {
  if (writable_ && error_.empty()) WriteHeader(/*clean=*/true);
}

base::Result<std::unique_ptr<Spool>> Spool::Create(const std::string& dir, const std::string& id,
                                                   std::uint64_t max_bytes) {
  if (!IsPathComponent(id)) return base::Status(base::Code::kInvalidArgument, "Invalid spool id.");
  if (max_bytes < kMinSpoolMaxBytes) {
    return base::Status(base::Code::kInvalidArgument, "Invalid spool bound.");
  }
  std::string path = dir + "/" + id;
  // O_EXCL: a spool never adopts a file it did not make (a stale one, or a planted symlink).
  base::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    return base::Status(base::Code::kInternal,
                        "cannot create spool " + path + ": " + std::strerror(errno));
  }
  std::unique_ptr<Spool> spool(new Spool(path, std::move(fd), max_bytes, /*writable=*/true));
  char header[kSpoolHeaderBytes] = {};
  std::memcpy(header, kMagic, sizeof kMagic);
  Put(header, kMaxOffset, max_bytes);
  if (auto ec = sys::WriteAt(spool->fd_.get(), {header, sizeof header}, 0)) {
    ::unlink(path.c_str());
    spool->writable_ = false;
    return base::Status(base::Code::kInternal, "cannot write spool " + path + ": " + Why(ec));
  }
  return spool;
}

std::unique_ptr<Spool> Spool::Open(const std::string& dir, const std::string& id) {
  std::string path = dir + "/" + id;
  if (!IsPathComponent(id)) {
    auto spool = std::unique_ptr<Spool>(new Spool(path, {}, kDefaultSpoolMaxBytes, false));
    spool->error_ = "invalid spool id";
    return spool;
  }
  // O_NONBLOCK: a FIFO planted there must not hang us; a regular file ignores it.
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  const int open_errno = errno;
  char header[kSpoolHeaderBytes] = {};
  std::size_t got = 0;
  std::error_code ec;
  struct stat st {};
  if (fd) ec = sys::ReadAt(fd.get(), header, sizeof header, 0, got);
  if (fd && !ec && ::fstat(fd.get(), &st) != 0) ec = {errno, std::system_category()};

  const std::uint64_t max_bytes = Get(header, kMaxOffset);
  const bool valid = fd && !ec && got == sizeof header &&
                     std::memcmp(header, kMagic, sizeof kMagic) == 0 &&
                     max_bytes >= kMinSpoolMaxBytes && S_ISREG(st.st_mode);
  auto spool = std::unique_ptr<Spool>(
      new Spool(path, std::move(fd), valid ? max_bytes : kDefaultSpoolMaxBytes, false));
  if (!spool->fd_) {
    spool->error_ = "cannot open spool " + path + ": " + std::strerror(open_errno);
    return spool;
  }
  if (!valid) {
    spool->error_ = "spool " + path + " is damaged: " + (ec ? Why(ec) : "no valid header");
    return spool;
  }

  std::uint64_t stored = Get(header, kStoredOffset);
  const std::uint64_t flags = Get(header, kFlagsOffset);
  const auto data_bytes = static_cast<std::uint64_t>(st.st_size) - kSpoolHeaderBytes;
  if (!(flags & kClosedCleanly) && data_bytes < max_bytes && data_bytes >= stored) {
    // The ring never wrapped: the file holds every byte written, counted or not, in order.
    stored = data_bytes;
  } else if (!(flags & kClosedCleanly)) {
    // Uncounted writes past the count may have overwritten the oldest ring bytes.
    spool->ring_slack_ = spool->count_lag();
  }
  if (data_bytes < std::min(stored, max_bytes)) {
    spool->error_ = "spool " + path + " is shorter than its header says";
    if (stored <= max_bytes) {
      stored = data_bytes;  // not wrapped yet: what is there is a prefix of the output
    } else {
      spool->ring_slack_ = spool->ring_bytes();  // the ring cannot be trusted; the head may be
    }
  } else if (flags & kFailed) {
    spool->error_ = "spool " + path + " failed while written: output past byte " +
                    std::to_string(stored) + " was lost";
  }
  spool->stored_ = stored;
  spool->counted_ = stored;
  spool->total_ = stored;
  return spool;
}

std::uint64_t Spool::disk_bytes() const {
  return fd_ ? kSpoolHeaderBytes + std::min(stored_, max_bytes_) : 0;
}

std::uint64_t Spool::FilePosition(std::uint64_t q) const {
  if (q < head_) return kSpoolHeaderBytes + q;
  return kSpoolHeaderBytes + head_ + (q - head_) % ring_bytes();
}

std::uint64_t Spool::RingStart() const {
  std::uint64_t start = head_;
  if (stored_ + ring_slack_ > ring_bytes()) {
    start = std::max(start, stored_ + ring_slack_ - ring_bytes());
  }
  return std::min(start, std::max(stored_, head_));
}

std::uint64_t Spool::FirstKeptAtOrAfter(std::uint64_t offset) const {
  if (offset >= stored_) return stored_;
  if (offset < head_) return offset;
  return std::max(offset, RingStart());
}

base::Status Spool::Append(std::string_view bytes) {
  if (!writable_) return {};
  total_ += bytes.size();
  if (!error_.empty()) return {};
  while (!bytes.empty()) {
    // One contiguous write never straddles the head's end or the ring's end, and never takes
    // the data more than count_lag() past the header's count (see Open).
    const std::uint64_t room =
        stored_ < head_ ? head_ - stored_ : ring_bytes() - (stored_ - head_) % ring_bytes();
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>({bytes.size(), room, count_lag()}));
    if (stored_ + n - counted_ > count_lag() && !WriteCount())
      return {base::Code::kInternal, error_};
    if (auto ec = sys::WriteAt(fd_.get(), bytes.substr(0, n), FilePosition(stored_))) {
      // Every byte offered is counted: those not written are the lost range [stored, total).
      Fail("cannot write spool " + path_ + ": " + Why(ec));
      return {base::Code::kInternal, error_};
    }
    stored_ += n;
    bytes.remove_prefix(n);
  }
  return {};
}

bool Spool::WriteCount() {
  char field[sizeof stored_];
  std::memcpy(field, &stored_, sizeof stored_);
  if (auto ec = sys::WriteAt(fd_.get(), {field, sizeof field}, kStoredOffset)) {
    Fail("cannot write spool " + path_ + ": " + Why(ec));
    return false;
  }
  counted_ = stored_;
  return true;
}

void Spool::WriteHeader(bool clean) {
  char fields[16];
  std::uint64_t flags = clean ? kClosedCleanly : 0;
  if (!error_.empty()) flags |= kFailed;
  std::memcpy(fields, &stored_, 8);
  std::memcpy(fields + 8, &flags, 8);
  if (!sys::WriteAt(fd_.get(), {fields, sizeof fields}, kStoredOffset)) counted_ = stored_;
  // else: best effort
}

void Spool::Fail(const std::string& what) {
  error_ = what;
  WriteHeader(/*clean=*/false);  // best effort: the disk that failed may refuse this too
}

base::Result<SpoolChunk> Spool::Read(std::uint64_t offset, std::size_t limit) const {
  if (offset > total_) return base::Status(base::Code::kInvalidArgument, "Invalid offset.");
  SpoolChunk chunk;
  const std::uint64_t start = FirstKeptAtOrAfter(offset);
  if (start >= stored_) {
    // Nothing on disk from here: either the end, or the range a failed spool lost.
    chunk.offset = total_;
    if (offset < total_) chunk.gap = Gap{offset, total_};
    return chunk;
  }
  chunk.offset = start;
  if (start > offset) chunk.gap = Gap{offset, start};

  // The end of the contiguous kept stretch that holds `start`.
  const std::uint64_t ring_start = RingStart();
  const std::uint64_t end = start < head_ && ring_start > head_ ? head_ : stored_;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(limit, end - start));
  chunk.hole_after = start + n == end && end < total_;

  chunk.bytes.resize(n);
  std::size_t done = 0;
  while (done < n) {
    // A stretch of the ring may wrap around the end of the file: read it in two.
    const std::uint64_t q = start + done;
    std::size_t want = n - done;
    if (q >= head_) {
      want = static_cast<std::size_t>(
          std::min<std::uint64_t>(want, ring_bytes() - (q - head_) % ring_bytes()));
    } else {
      want = static_cast<std::size_t>(std::min<std::uint64_t>(want, head_ - q));
    }
    std::size_t got = 0;
    if (auto ec = sys::ReadAt(fd_.get(), chunk.bytes.data() + done, want, FilePosition(q), got)) {
      return base::Status(base::Code::kInternal, "cannot read spool " + path_ + ": " + Why(ec));
    }
    if (got < want) {
      return base::Status(base::Code::kInternal,
                          "spool " + path_ + " is shorter than its contents (damaged)");
    }
    done += got;
  }
  return chunk;
}

void Spool::Remove() {
  ::unlink(path_.c_str());  // ENOENT: already gone, which is what was asked
}

}  // namespace corral::store
