/* fuzz_workload.c: libFuzzer target for the workload knobs a scenario, the command line or an
 * action's parameters may carry (common/rb_workload.h): the mix and value-size parsers must
 * refuse, never crash on, any text, point inside it when they refuse, and what they accept must
 * print back to a text that parses to the same thing; an accepted mix then passes
 * rb_workload_check with a key space from the input and its draws stay in range.
 *
 * The input is the text (NUL-terminated here); its first byte also picks the key space and the
 * distribution. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rb_workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  size_t len = strlen(text), at = 0;
  char err[300], back[2048];
  struct rb_workload w;
  rb_workload_defaults(&w);
  if (rb_workload_parse_mix(text, w.weight, &at, err, sizeof err) == RB_OK) {
    uint32_t again[RB_OP_COUNT];
    rb_workload_mix_text(w.weight, back, sizeof back);
    if (rb_workload_parse_mix(back, again, &at, err, sizeof err) != RB_OK ||
        memcmp(again, w.weight, sizeof again) != 0)
      abort(); /* the printed form parses back to the same mix */
    unsigned char b = size ? data[0] : 0;
    w.key_space = 1 + (long long)(b % 200);
    w.keydist = (enum rb_keydist)(b % RB_KEYDIST_COUNT);
    w.keys_per_command = 1 + (int)(b % 10);
    w.structure_size = 20;
    w.range_span = 1 + (int)(b % 20);
    w.ops = 3;
    if (rb_workload_check(&w, err, sizeof err) == RB_OK) {
      for (uint64_t k = 0; k < 4; k++) {
        for (uint64_t j = 0; j < 3; j++) {
          struct rb_op_draw d;
          rb_workload_draw(&w, k, j, &d);
          if (w.weight[d.op] == 0 || d.nkeys < 1 || d.nkeys > RB_KEYS_PER_COMMAND_MAX) abort();
          for (int i = 0; i < d.nkeys; i++)
            if (d.key[i] >= (uint64_t)w.key_space) abort();
        }
      }
    }
  } else if (at > len) {
    abort(); /* a refusal points inside the text */
  }
  struct rb_sizes s, s2;
  if (rb_workload_parse_size_list(text, &s, &at, err, sizeof err) == RB_OK) {
    rb_workload_sizes_text(&s, back, sizeof back);
    if (rb_workload_parse_size_list(back, &s2, &at, err, sizeof err) != RB_OK || s2.n != s.n ||
        memcmp(s2.size, s.size, sizeof s.size) != 0)
      abort();
  } else if (at > len) {
    abort();
  }
  if (rb_workload_parse_size_range(text, &s, &at, err, sizeof err) == RB_OK) {
    if (s.min > s.max || s.max > RB_VALUE_SIZE_MAX) abort();
  } else if (at > len) {
    abort();
  }
  free(text);
  return 0;
}
