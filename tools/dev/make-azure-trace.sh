#!/usr/bin/env bash
# make-azure-trace.sh: writes the synthetic trace scenarios/traces/synthetic-azure-5x1440.csv
# (stdout) in the format of the Azure Functions 2019 invocation counts
# (invocations_per_function_md.anon.dNN.csv: HashOwner,HashApp,HashFunction,Trigger, then the
# counts of minutes 1 to 1440, one row per function). The content is made up, deterministic and
# small; it is NOT the Azure trace (docs/workloads.md says where to get that). Five functions:
#   1 http    a diurnal rate: 10 + 8 sin(2 pi minute / 1440) per minute, rounded
#   2 timer   1 per minute
#   3 queue   quiet, then 120 per minute for 3 minutes every 30 minutes (bursts)
#   4 event   0 to 3 per minute from a fixed linear congruential sequence
#   5 http    rare: 1 in every 97th minute
# Usage: tools/dev/make-azure-trace.sh > scenarios/traces/synthetic-azure-5x1440.csv
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional make-azure-trace 0 "$@"
LC_ALL=C awk 'BEGIN {
  pi = atan2(0, -1)
  printf "HashOwner,HashApp,HashFunction,Trigger"
  for (m = 1; m <= 1440; m++) printf ",%d", m
  printf "\n"
  split("http timer queue event http", trig, " ")
  seed = 12345
  for (f = 1; f <= 5; f++) {
    printf "synthetic-owner-%d,synthetic-app-%d,synthetic-function-%d,%s", (f + 1) / 2, f, f, trig[f]
    for (m = 1; m <= 1440; m++) {
      if (f == 1) c = int(10 + 8 * sin(2 * pi * m / 1440) + 0.5)
      else if (f == 2) c = 1
      else if (f == 3) c = ((m - 1) % 30 < 3) ? 120 : 0
      else if (f == 4) { seed = (seed * 1103515245 + 12345) % 2147483648; c = int(seed / 65536) % 4 }
      else c = (m % 97 == 0) ? 1 : 0
      printf ",%d", c
    }
    printf "\n"
  }
}'
