#pragma once
// Small libc-level helpers for the monitor binary (no exceptions, no STL).
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace crisp::monitor {

// write() all of buf, retrying on EINTR/short writes; false on error (errno set).
bool write_all(int fd, const void* buf, size_t len);
// Reads a whole file into a malloc'd NUL-terminated buffer; nullptr on error (errno set).
char* read_whole_file(const char* path, size_t* len);
// Atomic replace: "<path>.tmp", (fsync if durable), rename. false on error (errno set).
// Without durable a reader still never sees a partial file; only a power loss can lose it.
bool atomic_write(const char* path, const char* data, size_t len, bool durable);
// Field 22 of /proc/<pid>/stat (start time in clock ticks); 0 if unreadable.
uint64_t process_start_time(pid_t pid);
// CLOCK_REALTIME in nanoseconds.
int64_t unix_time_ns();
// snprintf into buf, returns buf.
char* format(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
// strerror() without gettext: English text, keeps the locale machinery out of the binary.
const char* error_text(int err);
// Diagnostics of the monitor itself, to its stderr: "crisp-monitor: <message>\n".
void log_message(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Parses "<a><sep><b>" (two decimal numbers <= 65535, e.g. "24x80" or "24 80"); false if malformed.
bool parse_two_numbers(const char* s, char sep, unsigned* a, unsigned* b);
// Drops this process's page-table mappings of its own read-only code and constant data (they
// stay in the page cache, reclaimable, and fault back in when used), so an idle monitor maps
// only what its loop touches (plus the kernel's fault-around neighbours). Best effort.
void trim_resident_code();
// Joins dir and name into buf ("<dir>/<name>").
const char* path_join(char* buf, size_t size, const char* dir, const char* name);

}  // namespace crisp::monitor
