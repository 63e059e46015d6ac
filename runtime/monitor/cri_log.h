#pragma once
// The CRI container log writer of the monitor. Each output line becomes
//   <RFC3339Nano UTC time> <stdout|stderr> <P|F> <text>\n
// (kubelet's format: F = full line, P = partial chunk continued by the next record). Lines longer
// than max_line are split into P chunks of max_line bytes followed by an F record. An unfinished
// line is held until its newline, until it fills max_line (a P record) or until the stream ends
// (an F record); every record of one read() carries that read's time.
// Each stream keeps one pending buffer of max_line bytes, mmap'd so only the pages a long line
// touched are resident (and given back once the line is written).
#include <stddef.h>
#include <stdint.h>

namespace crisp::monitor {

struct CriLogStream {
  const char* name = nullptr;  // "stdout" or "stderr"
  char* pending = nullptr;     // max_line bytes
  size_t pending_len = 0;      // bytes of an unfinished line at the start of pending
  size_t high_water = 0;       // most bytes used since the pages were last given back
};

class CriLog {
 public:
  // path == nullptr: output is discarded (still read and relayed). false on error (errno set).
  bool init(const char* path, uint32_t max_line);
  // Opens the log path again (after rotation); keeps the old fd on failure.
  bool reopen();
  // Sets up a stream's buffer; false if the mapping failed.
  bool init_stream(CriLogStream* s, const char* name);

  // Where to read new bytes for s, and how many fit (always > 0).
  char* tail(CriLogStream* s, size_t* room) const;
  // n bytes were read into tail(); writes every finished line (and full P chunks).
  void commit(CriLogStream* s, size_t n, int64_t now_ns);
  // The stream ended: writes what is pending as a final F record.
  void flush(CriLogStream* s, int64_t now_ns);

  // One record (exposed for tests); text must not contain '\n'.
  void write_record(const char* stream, bool partial, const char* text, size_t len,
                    int64_t now_ns);
  int fd() const { return fd_; }
  uint32_t max_line() const { return max_line_; }

 private:
  int fd_ = -1;
  const char* path_ = nullptr;
  uint32_t max_line_ = 16384;
};

// "2026-01-02T03:04:05.123456789Z" (30 chars + NUL) for a unix time in ns; returns the length.
size_t format_rfc3339_nano(int64_t unix_ns, char out[32]);

}  // namespace crisp::monitor
