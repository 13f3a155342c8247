/* rb_rng.h: the one random number generator of rbench (pure, header only).
 *
 * Every random choice of a run (operations, keys, value sizes, arrival gaps) comes from the
 * run's seed, so the same seed gives the same workload on every target and in every shard.
 * Draws are counter-based: a stream is keyed by (seed, stream tag, a, b), for example (seed,
 * RB_RNG_OPS, invocation, operation), so the draw of operation j of invocation k does not
 * depend on which connection, process or shard makes it, nor on what was drawn before.
 *
 * The mixing function is SplitMix64 (Steele, Lea, Flood 2014), the generator that seeds
 * xoshiro; consecutive outputs of one stream are SplitMix64's sequence from the keyed state. */
#ifndef RB_RNG_H
#define RB_RNG_H

#include <math.h>
#include <stdint.h>

/* Stream tags: independent streams of one seed. */
enum rb_rng_stream {
  RB_RNG_OPS = 1,     /* (invocation, operation): the operation's type, keys, sizes */
  RB_RNG_ARRIVAL = 2, /* (segment, 0): the arrival process's gaps */
  RB_RNG_PREPARE = 3, /* (key, 0): prepared data */
};

struct rb_rng {
  uint64_t state;
};

static inline uint64_t rb_rng_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* A stream keyed by (seed, tag, a, b). */
static inline void rb_rng_init(struct rb_rng *r, uint64_t seed, uint64_t tag, uint64_t a,
                               uint64_t b) {
  uint64_t s = rb_rng_mix(seed + 0x9e3779b97f4a7c15ULL);
  s = rb_rng_mix(s ^ (tag * 0xd1b54a32d192ed03ULL));
  s = rb_rng_mix(s ^ (a + 0x8cb92ba72f3d8dd7ULL));
  r->state = rb_rng_mix(s ^ (b * 0xaef17502108ef2d9ULL + 1));
}

/* The next 64 uniformly distributed bits. */
static inline uint64_t rb_rng_next(struct rb_rng *r) {
  r->state += 0x9e3779b97f4a7c15ULL;
  return rb_rng_mix(r->state);
}

/* Uniform in [0, 1), 53 bits. */
static inline double rb_rng_double(struct rb_rng *r) {
  return (double)(rb_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in (0, 1]: for logarithms. */
static inline double rb_rng_double_open0(struct rb_rng *r) {
  return ((double)(rb_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-shift with
 * rejection). */
static inline uint64_t rb_rng_below(struct rb_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  for (;;) {
    uint64_t x = rb_rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo >= n || lo >= (-n) % n) return (uint64_t)(m >> 64);
  }
}

/* Exponentially distributed with mean `mean` (> 0). */
static inline double rb_rng_exponential(struct rb_rng *r, double mean) {
  return -mean * log(rb_rng_double_open0(r));
}

#endif
