#!/usr/bin/env bash
# bench-spawn.sh: what process start-up costs on this machine, library by library, and where
# rbench-action's cold start sits against it (docs/benchmarks.md; the full table in docs/benchmarks-history.md, "Where the cold start goes").
# rbench-action loads libc and libcjson only (http-parser, hiredis and libevent are linked
# statically): the "with-cjson" line is its floor. Each line: posix_spawn until exit, N times, p50/p90/min in µs.
# Usage: tools/bench/bench-spawn.sh [N]   (default 100)
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-spawn 1 "$@"
cd "$(dirname "$0")/../.."
n=${1:-100}
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target rbench-action bench_action >/dev/null
tool=build/release/tools/bench/bench_action
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo 'int main(void) { return 0; }' >"$tmp/empty.c"
cc -O2 -static "$tmp/empty.c" -o "$tmp/static"
cc -O2 "$tmp/empty.c" -o "$tmp/plain"
# --no-as-needed: link (and so load) the libraries although main() uses none of them
cc -O2 "$tmp/empty.c" -o "$tmp/with-cjson" -Wl,--no-as-needed -lcjson
cc -O2 "$tmp/empty.c" -o "$tmp/with-libevent-hiredis-cjson" -Wl,--no-as-needed -levent_core -lhiredis -lcjson
cc -O2 "$tmp/empty.c" -o "$tmp/with-libmicrohttpd" -Wl,--no-as-needed -lmicrohttpd -levent_core -lhiredis -lcjson

echo "### process start-up, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Command: \`tools/bench/bench-spawn.sh $n\`"
echo
echo '```'
for prog in static plain with-cjson with-libevent-hiredis-cjson with-libmicrohttpd; do
  printf '%-30s ' "$prog"; "$tool" spawn "$tmp/$prog" "$n"
done
printf '%-30s ' "rbench-action --version"; "$tool" spawn build/release/action/rbench-action "$n" --version
printf '%-30s ' "rbench-action cold start"; "$tool" cold build/release/action/rbench-action "$n"
echo '```'
