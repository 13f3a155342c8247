/* rb_clock.c: thin wrappers over clock_gettime. */
#define _POSIX_C_SOURCE 200809L
#include "rb_clock.h"

#include <time.h>

uint64_t rb_clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t rb_clock_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rb_clock_wall_ms(void) { return rb_clock_wall_us() / 1000; }
