#!/bin/sh
# stage-image-root.sh: lays out the root of a small image (run inside a Dockerfile's builder
# stage): the stripped binaries at /, exactly the shared libraries ldd lists for them, and the
# few /etc files a program needs to run as nobody and resolve names.
#
# Usage: tools/lib/stage-image-root.sh [--ca-certificates] STAGING BINARY...
#
# --ca-certificates also copies /etc/ssl/certs/ca-certificates.crt (the bundle Debian's
# libcurl and OpenSSL read by default) for a program that talks HTTPS. POSIX sh: the builder
# runs it with /bin/sh.
set -eu

case "${1:-}" in
  -h | --help) sed -n '2,/^set -eu$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
  --ca-certificates) ;;
  -*) echo "stage-image-root: error: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

ca=0
if [ "${1:-}" = "--ca-certificates" ]; then
  ca=1
  shift
fi
[ $# -ge 2 ] || { echo "usage: stage-image-root.sh [--ca-certificates] STAGING BINARY..." >&2; exit 2; }
out="$1"
shift

mkdir -p "$out/etc" "$out/tmp"
chmod 1777 "$out/tmp"
for bin in "$@"; do
  name="$(basename "$bin")"
  install -m 0755 -s "$bin" "$out/$name"
  ldd "$out/$name" >"$out.ldd"
  cat "$out.ldd"
  if grep -q 'not found' "$out.ldd"; then echo "stage-image-root: $name: missing shared library" >&2; exit 1; fi
  for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$out.ldd"); do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
  done
  rm -f "$out.ldd"
done
printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' \
  >"$out/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$out/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$out/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$out/etc/hosts"
chmod 0644 "$out/etc/passwd" "$out/etc/group" "$out/etc/nsswitch.conf" "$out/etc/hosts"
if [ "$ca" -eq 1 ]; then
  [ -s /etc/ssl/certs/ca-certificates.crt ] || { echo "stage-image-root: no CA bundle (install ca-certificates)" >&2; exit 1; }
  mkdir -p "$out/etc/ssl/certs"
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
fi
find "$out" -printf '%M %8s %p\n' | sort -k3
