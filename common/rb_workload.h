/* rb_workload.h: what each Redis operation of a run is: its command, its keys, its value
 * size (pure: no I/O, no clock). rbench-action draws its operations here; the runner uses the
 * same code to check a scenario and to measure key reuse, so both always agree.
 *
 *   settings (mix, key distribution, sizes, seed)
 *      └─► rb_workload_draw(w, invocation k, operation j) ─► {command, keys, value size, member}
 *
 * A draw depends only on (seed, k, j) (rb_rng.h), never on the order operations are sent, so
 * the same seed gives the same invocations and keys on every target and in every shard.
 *
 * Keys. Each data type has keys of its own, so a key never holds two types:
 *   strings  PREFIX:N      set get del exists mget mset eval (as the seed's keys)
 *   counters PREFIX:n:N    incr
 *   hashes   PREFIX:h:N    hset hget hgetall     (fields f0 .. f{structure_size-1})
 *   lists    PREFIX:l:N    lpush lrange          (lrange reads range_span elements)
 *   sets     PREFIX:s:N    sadd smembers         (members m0 .. m{2 structure_size-1})
 *   zsets    PREFIX:z:N    zadd zrangebyscore    (member mI has score I; a range spans
 *                                                range_span scores)
 * N is drawn from the key distribution over [0, key_space):
 *   sequential  operation n of the run (n = k * ops + j) uses key n mod key_space (the seed's
 *               behaviour: with the default key_space = ops, operation j uses key j)
 *   uniform     every key equally likely
 *   zipfian     key i has probability proportional to 1/(i+1)^s (s = zipf_exponent; key 0 is
 *               the hottest), drawn by rejection-inversion (Hoermann and Derflinger 1996)
 *   hotspot     a fraction hotspot_ops of operations on the first hotspot_keys of the keys,
 *               the rest uniform on the others (YCSB's hotspot)
 *   gaussian    normal around key_space / 2 with standard deviation gaussian_stddev *
 *               key_space, redrawn when outside the key space (memtier's --key-pattern G)
 * Multi-key commands (mget, mset) draw keys_per_command keys; sequential takes n .. n+w-1.
 *
 * Prepared data (rb_workload_prepare_needs): before the measured part the runner has the
 * action write what reads need, so a read never measures a miss it did not ask for: strings
 * for get, exists, mget; hashes with structure_size fields for hget, hgetall; lists of
 * structure_size elements for lrange; sets of structure_size members for smembers; zsets of
 * structure_size members for zrangebyscore. */
#ifndef RB_WORKLOAD_H
#define RB_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rb_error.h"

#define RB_OPS(X)                         \
  X(RB_OP_SET, "set")                     \
  X(RB_OP_GET, "get")                     \
  X(RB_OP_DEL, "del")                     \
  X(RB_OP_EXISTS, "exists")               \
  X(RB_OP_INCR, "incr")                   \
  X(RB_OP_MGET, "mget")                   \
  X(RB_OP_MSET, "mset")                   \
  X(RB_OP_HSET, "hset")                   \
  X(RB_OP_HGET, "hget")                   \
  X(RB_OP_HGETALL, "hgetall")             \
  X(RB_OP_LPUSH, "lpush")                 \
  X(RB_OP_LRANGE, "lrange")               \
  X(RB_OP_SADD, "sadd")                   \
  X(RB_OP_SMEMBERS, "smembers")           \
  X(RB_OP_ZADD, "zadd")                   \
  X(RB_OP_ZRANGEBYSCORE, "zrangebyscore") \
  X(RB_OP_EVAL, "eval")

enum rb_op {
#define RB_OP_ENUM(id, name) id,
  RB_OPS(RB_OP_ENUM)
#undef RB_OP_ENUM
      RB_OP_COUNT
};

/* "set", "get", ... ; "unknown" out of range. */
const char *rb_op_name(enum rb_op op);
/* Case-insensitive lookup of len bytes of name. */
bool rb_op_from_name(const char *name, size_t len, enum rb_op *op);
/* "set, get, del, ..., eval": every operation, for error messages. */
const char *rb_op_list(void);

enum rb_ns {
  RB_NS_STRING,
  RB_NS_COUNTER,
  RB_NS_HASH,
  RB_NS_LIST,
  RB_NS_SET,
  RB_NS_ZSET,
  RB_NS_COUNT
};
enum rb_ns rb_op_ns(enum rb_op op);
/* The key's tag after the prefix: "" (strings: PREFIX:N), "n:", "h:", "l:", "s:", "z:". */
const char *rb_ns_tag(enum rb_ns ns);
/* True for mget and mset. */
bool rb_op_multi_key(enum rb_op op);
/* True for commands that write (set del incr mset hset lpush sadd zadd). */
bool rb_op_writes(enum rb_op op);

/* The server-side script of the eval operation: a loop of ARGV[1] iterations (the
 * script_work parameter) over KEYS[1], returning an integer. */
#define RB_EVAL_SCRIPT \
  "local n=tonumber(ARGV[1]) local s=0 for i=1,n do s=(s*31+i)%1000003 end return s"

enum rb_keydist {
  RB_KEYS_SEQUENTIAL,
  RB_KEYS_UNIFORM,
  RB_KEYS_ZIPFIAN,
  RB_KEYS_HOTSPOT,
  RB_KEYS_GAUSSIAN,
  RB_KEYDIST_COUNT
};
const char *rb_keydist_name(enum rb_keydist d);
bool rb_keydist_from_name(const char *name, enum rb_keydist *d);

#define RB_SIZES_MAX 16
enum rb_sizes_kind { RB_SIZES_FIXED, RB_SIZES_RANGE, RB_SIZES_LIST };
struct rb_sizes {
  enum rb_sizes_kind kind;
  uint32_t min, max;           /* FIXED: min == max; RANGE: uniform in [min, max] */
  uint32_t n;                  /* LIST: entries */
  uint32_t size[RB_SIZES_MAX]; /* LIST */
  uint32_t weight[RB_SIZES_MAX];
};

/* Limits (checked by rb_workload_check). */
#define RB_VALUE_SIZE_MAX (1024u * 1024u)
#define RB_KEYS_PER_COMMAND_MAX 100
#define RB_STRUCTURE_SIZE_MAX 100000
#define RB_SCRIPT_WORK_MAX 100000000LL
#define RB_KEY_SPACE_MAX 2147483647LL
#define RB_SEED_MAX 9007199254740991LL /* 2^53 - 1: exact in JSON */
#define RB_PREPARE_ELEMENTS_MAX 50000000LL

struct rb_workload {
  uint32_t weight[RB_OP_COUNT]; /* the mix; a single operation has one non-zero weight */
  long long ops;                /* operations per invocation (num_ops), for sequential keys */
  long long key_space;          /* >= 1 */
  enum rb_keydist keydist;
  double zipf_exponent;   /* (0, 5], default 0.99 (YCSB) */
  double hotspot_keys;    /* (0, 1), default 0.2 */
  double hotspot_ops;     /* [0, 1], default 0.8 */
  double gaussian_stddev; /* (0, 10], a fraction of key_space, default 1/6 (memtier) */
  struct rb_sizes sizes;  /* value sizes, default fixed 64 */
  int keys_per_command;   /* mget, mset: 1..100, default 10 */
  int structure_size;     /* elements of prepared hashes, lists, sets, zsets: default 100 */
  int range_span;         /* lrange elements, zrangebyscore score span: default 10 */
  long long script_work;  /* eval loop iterations: default 1000 */
  uint64_t seed;          /* 0 .. RB_SEED_MAX, default 1 */
  /* derived by rb_workload_check (do not set) */
  uint64_t weight_total;
  double zipf_h_x1, zipf_h_n, zipf_s; /* rejection-inversion constants */
};

/* The defaults above: the single operation set, sequential keys, key_space = ops = 1. */
void rb_workload_defaults(struct rb_workload *w);

/* Checks every setting and derives the sampling constants. Refused, naming the setting and
 * the bound: a mix whose weights sum to 0; keys_per_command above key_space when mget or mset
 * is in the mix; range_span above structure_size when lrange or zrangebyscore is; a
 * distribution parameter out of range; a size list with a zero total weight. */
enum rb_err rb_workload_check(struct rb_workload *w, char *err, size_t errlen);

/* Parses "get:80,set:20" (or a single name, weight 1) into weight[]. Names are
 * case-insensitive; spaces around items are allowed; weights are integers 0..1000000; a name
 * given twice, an unknown name or a sum of 0 is refused. On error *at is the byte offset in
 * text of the offending item (for FILE:LINE:COLUMN). */
enum rb_err rb_workload_parse_mix(const char *text, uint32_t weight[RB_OP_COUNT], size_t *at,
                                  char *err, size_t errlen);
/* Writes a mix as "get:80,set:20" (operations in table order, zero weights left out). */
void rb_workload_mix_text(const uint32_t weight[RB_OP_COUNT], char *out, size_t len);

/* Parses "MIN-MAX" (a uniform range, MIN <= MAX <= RB_VALUE_SIZE_MAX) or "SIZE:WEIGHT,..."
 * (a weighted list, at most RB_SIZES_MAX entries) into s. *at as above. */
enum rb_err rb_workload_parse_size_range(const char *text, struct rb_sizes *s, size_t *at,
                                         char *err, size_t errlen);
enum rb_err rb_workload_parse_size_list(const char *text, struct rb_sizes *s, size_t *at, char *err,
                                        size_t errlen);
/* "64", "64-4096" or "64:80,4096:20". */
void rb_workload_sizes_text(const struct rb_sizes *s, char *out, size_t len);

struct rb_op_draw {
  enum rb_op op;
  int nkeys;                             /* 1, or keys_per_command for mget / mset */
  uint64_t key[RB_KEYS_PER_COMMAND_MAX]; /* key numbers in [0, key_space) */
  uint32_t value_size;                   /* set mset hset lpush: bytes of each value */
  uint64_t member;                       /* hset/hget: field; sadd/zadd: member;
                                            zrangebyscore/lrange: first score/index */
};

/* Operation j of invocation k. w must have passed rb_workload_check. */
void rb_workload_draw(const struct rb_workload *w, uint64_t k, uint64_t j, struct rb_op_draw *d);

/* A key's number only (the first key of the draw): what the key distribution gives for
 * operation j of invocation k, for tests and for key-reuse counting. */
uint64_t rb_workload_key(const struct rb_workload *w, uint64_t k, uint64_t j);

/* Which namespaces the mix reads and so must be prepared (bit 1 << RB_NS_*), 0 for none. */
unsigned rb_workload_prepare_needs(const struct rb_workload *w);
/* Elements the preparation writes: key_space per string namespace, key_space x
 * structure_size per structure. Refused above RB_PREPARE_ELEMENTS_MAX by rb_workload_check. */
long long rb_workload_prepare_elements(const struct rb_workload *w);

/* The value written for key number i: size bytes, byte b = 'a' + (i + b) % 26 (the seed's
 * values). */
void rb_workload_fill_value(char *buf, size_t size, uint64_t i);

#endif
