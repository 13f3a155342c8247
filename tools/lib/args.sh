# args.sh: the argument conventions every tools/ script follows (source it; it defines functions
# only). -h/--help prints the usage on stdout and exits 0 before anything is built, started or
# written; a usage error (an unknown option, a missing value, one argument too many) names the
# argument on stderr and exits 2.

# rb_usage_error PROG MESSAGE: "PROG: error: MESSAGE (see --help)" on stderr, exit 2.
rb_usage_error() {
  echo "$1: error: $2 (see --help)" >&2
  exit 2
}

# rb_header_usage FILE: FILE's header comment (after the shebang, up to the first line that is
# not a comment) without the leading "# ": the usage of a script whose header holds it.
rb_header_usage() {
  sed -n '2,${/^#/!q;s/^# \{0,1\}//;p}' "$1"
}

# rb_args_positional PROG MAX ARGS...: for a script whose only arguments are at most MAX
# positional ones (its header being its usage): -h/--help prints the header and exits 0; an
# argument starting with '-' or one beyond MAX is a usage error.
rb_args_positional() {
  local prog="$1" max="$2" n=0 a
  shift 2
  for a in "$@"; do
    case "$a" in
      -h | --help) rb_header_usage "$0"; exit 0 ;;
      -*) rb_usage_error "$prog" "unknown option '$a'" ;;
      *) n=$((n + 1)); [ "$n" -le "$max" ] || rb_usage_error "$prog" "unexpected argument '$a'" ;;
    esac
  done
}
