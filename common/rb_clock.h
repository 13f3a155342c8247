/* rb_clock.h: monotonic and wall clocks in integer units. */
#ifndef RB_CLOCK_H
#define RB_CLOCK_H

#include <stdint.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC); only differences mean anything. */
uint64_t rb_clock_mono_ns(void);
/* Wall-clock time in milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t rb_clock_wall_ms(void);
/* Wall-clock time in microseconds since the Unix epoch. */
int64_t rb_clock_wall_us(void);

#endif
