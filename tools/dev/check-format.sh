#!/usr/bin/env bash
# check-format.sh: checks that every tracked .c/.h file follows .clang-format (clang-format 14).
#   tools/dev/check-format.sh         lists the files that are not formatted; exit 1 if any
#   tools/dev/check-format.sh --fix   formats them in place
set -euo pipefail
cd "$(dirname "$0")/../.."

fix=false
case "${1:-}" in
  "") ;;
  --fix) fix=true ;;
  *) echo "usage: tools/dev/check-format.sh [--fix]" >&2; exit 2 ;;
esac

cf="${CLANG_FORMAT:-clang-format}"
if ! command -v "$cf" >/dev/null; then
  echo "check-format: $cf not found (apt-get install clang-format)" >&2
  exit 2
fi
# An unreadable .clang-format would make every file look unformatted: say so instead.
"$cf" --style=file --dump-config >/dev/null
case "$("$cf" --version)" in
  *" version 14."*) ;;
  *) echo "check-format: .clang-format was tuned with clang-format 14; $("$cf" --version)" >&2 ;;
esac

mapfile -t files < <(git ls-files -- '*.c' '*.h')
[ "${#files[@]}" -gt 0 ] || exit 0

if $fix; then
  "$cf" -i --style=file "${files[@]}"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue # deleted, not yet staged
  "$cf" --dry-run --Werror --style=file "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
  echo "not formatted (run tools/dev/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
