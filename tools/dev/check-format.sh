#!/usr/bin/env bash
# check-format.sh: checks that every tracked .c/.h file follows .clang-format (clang-format 14).
# Usage: tools/dev/check-format.sh [--fix]
#   (no option)  lists the files that are not formatted; exit 1 if any
#   --fix        formats them in place
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"

fix=false
case "${1:-}" in
  "") ;;
  --fix) fix=true ;;
  -h | --help) rb_header_usage "$0"; exit 0 ;;
  *) rb_usage_error check-format "unknown option '$1'" ;;
esac
[ $# -le 1 ] || rb_usage_error check-format "unexpected argument '$2'"
cd "$(dirname "$0")/../.."

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
