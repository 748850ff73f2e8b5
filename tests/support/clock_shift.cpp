// Moves a process' wall clock by BATON_CLOCK_SHIFT_S seconds (negative: behind), for tests
// that need a redis-server whose clock is behind. libfaketime does this for batond, but cannot
// start Debian's redis-server: jemalloc calls clock_gettime() while libfaketime initialises,
// and libfaketime gives up (libfaketime issues #130, #327). This preload needs no
// initialisation: it asks the kernel directly (no dlsym, no malloc) and shifts only the
// realtime clocks, so monotonic timers, timeouts and expiry intervals stay real.
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

namespace {

long shift_seconds() {
  static int known = 0;
  static long shift = 0;
  if (!known) {
    const char* text = getenv("BATON_CLOCK_SHIFT_S");
    shift = text ? strtol(text, nullptr, 10) : 0;
    known = 1;
  }
  return shift;
}

bool is_realtime(clockid_t id) {
  return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE;
}

} // namespace

extern "C" {

int clock_gettime(clockid_t id, struct timespec* ts) {
  long r = syscall(SYS_clock_gettime, id, ts);
  if (r == 0 && is_realtime(id)) ts->tv_sec += shift_seconds();
  return static_cast<int>(r);
}

int gettimeofday(struct timeval* tv, void* tz) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec; // glibc declares tv non-null
  tv->tv_usec = ts.tv_nsec / 1000;
  (void)tz;
  return 0;
}

time_t time(time_t* out) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return static_cast<time_t>(-1);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}

} // extern "C"
