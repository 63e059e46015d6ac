#include "runtime/monitor/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace crisp::monitor {

bool write_all(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

char* read_whole_file(const char* path, size_t* len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  size_t cap = (fstat(fd, &st) == 0 && st.st_size > 0) ? static_cast<size_t>(st.st_size) + 1 : 4096;
  char* buf = static_cast<char*>(malloc(cap + 1));
  size_t used = 0;
  for (;;) {
    if (!buf) break;
    if (used == cap) {
      cap *= 2;
      char* bigger = static_cast<char*>(realloc(buf, cap + 1));
      if (!bigger) {
        free(buf);
        buf = nullptr;
        break;
      }
      buf = bigger;
    }
    ssize_t n = read(fd, buf + used, cap - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      free(buf);
      buf = nullptr;
      errno = err;
      break;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  int err = errno;
  close(fd);
  errno = err;
  if (!buf) return nullptr;
  buf[used] = '\0';
  *len = used;
  return buf;
}

bool atomic_write(const char* path, const char* data, size_t len, bool durable) {
  char tmp[4096];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= static_cast<int>(sizeof(tmp))) {
    errno = ENAMETOOLONG;
    return false;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = write_all(fd, data, len) && (!durable || fsync(fd) == 0);
  int err = errno;
  close(fd);
  if (ok && rename(tmp, path) == 0) return true;
  if (ok) err = errno;
  unlink(tmp);
  errno = err;
  return false;
}

uint64_t process_start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char* p = strrchr(buf, ')');
  if (!p) return 0;
  // p points at ')'; field 3 starts at p + 2. Skip to field 22.
  p += 2;
  for (int field = 3; field < 22; ++field) {
    p = strchr(p, ' ');
    if (!p) return 0;
    ++p;
  }
  return strtoull(p, nullptr, 10);
}

int64_t unix_time_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

char* format(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return buf;
}

const char* error_text(int err) {
  const char* text = strerrordesc_np(err);
  return text ? text : "Unknown error";
}

void log_message(const char* fmt, ...) {
  char buf[1024];
  int n = snprintf(buf, sizeof(buf), "crisp-monitor[%d]: ", static_cast<int>(getpid()));
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof(buf) - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof(buf) - 2) len = sizeof(buf) - 2;
  buf[len++] = '\n';
  write_all(2, buf, len);
}

bool parse_two_numbers(const char* s, char sep, unsigned* a, unsigned* b) {
  char* end = nullptr;
  if (*s < '0' || *s > '9') return false;
  unsigned long x = strtoul(s, &end, 10);
  if (*end != sep || end[1] < '0' || end[1] > '9') return false;
  unsigned long y = strtoul(end + 1, &end, 10);
  if (*end != '\0' || x > 65535 || y > 65535) return false;
  *a = static_cast<unsigned>(x);
  *b = static_cast<unsigned>(y);
  return true;
}

void trim_resident_code() {
  size_t len = 0;
  char* maps = read_whole_file("/proc/self/maps", &len);
  if (!maps) return;
  char exe[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    free(maps);
    return;
  }
  exe[n] = '\0';
  for (char* line = strtok(maps, "\n"); line; line = strtok(nullptr, "\n")) {
    // "start-end perms offset dev inode path"; only our binary's non-writable segments: their
    // pages are never modified, so dropping them loses nothing.
    unsigned long start = 0, end = 0;
    char perms[5] = {};
    char* p = line;
    start = strtoul(p, &p, 16);
    if (*p++ != '-') continue;
    end = strtoul(p, &p, 16);
    if (*p++ != ' ') continue;
    memcpy(perms, p, 4);
    const char* path = strchr(line, '/');
    if (!path || strcmp(path, exe) != 0 || perms[1] == 'w') continue;
    madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
  }
  free(maps);
}

const char* path_join(char* buf, size_t size, const char* dir, const char* name) {
  snprintf(buf, size, "%s/%s", dir, name);
  return buf;
}

}  // namespace crisp::monitor
