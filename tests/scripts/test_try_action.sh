#!/usr/bin/env bash
# test_try_action.sh: tools/try-action.sh against the real rbench-action and a real redis-server
# (its own, on a free loopback port): exit 0 and the result on success; exit 1 naming the error
# when the action answers an application error (Redis unreachable: a closed loopback port) or a
# status other than 2xx (a body that is not JSON: 400); exit 2 for a usage error. Nothing it
# started outlives it: every process carrying this test's mark in its environment is reported
# and stopped, by its id.
# Usage: tests/scripts/test_try_action.sh SOURCE_ROOT BUILD_DIR
set -uo pipefail
SRC="$(cd "${1:?source root}" && pwd)"
BUILD="$(cd "${2:?build dir}" && pwd)"
WORK="$(mktemp -d /tmp/rbench-try-action.XXXXXX)"
MARK="rbench-try-action-test-$$"
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "RBENCH_TRY_ACTION_TEST=$MARK" && echo "${p#/proc/}"
  done
}
stop_leftovers() { local p; for p in $(leftovers); do kill -9 "$p" 2>/dev/null || true; done; }
trap 'stop_leftovers; rm -rf "$WORK"' EXIT
PASS=0
FAIL=0
check() { local w="$1"; shift; if "$@"; then PASS=$((PASS + 1)); echo "ok - $w"; else FAIL=$((FAIL + 1)); echo "not ok - $w"; sed 's/^/    /' "$WORK/out" "$WORK/err" | head -20; fi; }
for t in redis-server redis-cli curl python3; do command -v "$t" >/dev/null || { echo "test_try_action: $t missing"; exit 1; }; done

# try PARAMS: runs try-action.sh with the test's build; sets rc, leaves stdout/stderr in WORK.
try() {
  RBENCH_TRY_ACTION_TEST="$MARK" BUILD="$BUILD" timeout 120 "$SRC/tools/try-action.sh" "$@" \
    >"$WORK/out" 2>"$WORK/err"
  rc=$?
}
nothing_left() { [ -z "$(leftovers)" ]; }

try '{"num_ops":20,"parallel_calls":2}'
check "success: exit 0" test "$rc" -eq 0
check "success: the result, every operation succeeded" grep -q '"succeeded": 20' "$WORK/out"
check "success: nothing left running" nothing_left

closed="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
try "{\"num_ops\":5,\"redis_port\":$closed}"
check "Redis unreachable: exit 1" test "$rc" -eq 1
check "Redis unreachable: the action's error is named" \
  grep -q "action answered an error: 5 of 5 operations failed (127.0.0.1:$closed): connect to 127.0.0.1:$closed failed" "$WORK/err"
check "Redis unreachable: the result is still printed" grep -q '"failed": 5' "$WORK/out"
check "Redis unreachable: nothing left running" nothing_left

try '{"num_ops":'
check "a body that is not JSON: exit 1 with the HTTP status" \
  bash -c '[ "$1" -eq 1 ] && grep -q "POST /run: HTTP 400" "$2"' _ "$rc" "$WORK/err"
check "a body that is not JSON: nothing left running" nothing_left

try '{"num_ops":0}'
check "bad parameters (an application error): exit 1 naming the parameter" \
  bash -c '[ "$1" -eq 1 ] && grep -q "num_ops must be an integer" "$2"' _ "$rc" "$WORK/err"

try --num-ops 5
check "an unknown option: exit 2 naming it" \
  bash -c '[ "$1" -eq 2 ] && grep -q "unknown option .--num-ops." "$2"' _ "$rc" "$WORK/err"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
