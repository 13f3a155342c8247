# cluster-lib.sh: helpers shared by tools/deploy.sh, tools/smoke.sh and tools/fetch-results.sh
# (source it; it defines functions and reads nothing by itself).
#
# The chart's names: F (the fullname) is the release name when it contains "rbench", else
# RELEASE-rbench; objects are F-redis, F-agent, F-image-builder, ... in namespace NS.

# cl_die MSG: the calling script's name, the message, exit 1.
cl_die() {
  echo "${CL_PROG:-cluster}: error: $*" >&2
  exit 1
}

# cl_fullname RELEASE: the chart's fullname for that release.
cl_fullname() {
  case "$1" in
    *rbench*) printf '%s\n' "$1" ;;
    *) printf '%s-rbench\n' "$1" ;;
  esac
}

# cl_check_name WHAT VALUE: VALUE must be a DNS-1123 label (namespace, release).
cl_check_name() {
  [[ "$2" =~ ^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$ ]] || cl_die "$1 '$2' is not a valid name (lower-case letters, digits, '-')"
}

# cl_need TOOL...: each must be on PATH.
cl_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || cl_die "$t is not installed or not on PATH"
  done
}

# cl_env_load FILE: reads KEY=VALUE lines (the runner's local.env format: '#' comments, blank
# lines, optional "export ", values optionally in single or double quotes) into the
# associative array CL_ENV. Nothing is evaluated. A malformed line stops with FILE:LINE.
declare -gA CL_ENV=()
cl_env_load() {
  local file="$1" line key val n=0
  [ -r "$file" ] || cl_die "env file $file cannot be read"
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line#export }"
    [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || cl_die "$file:$n: not a KEY=VALUE line"
    key="${BASH_REMATCH[1]}"
    val="${BASH_REMATCH[2]}"
    if [[ "$val" =~ ^\"(.*)\"[[:space:]]*(#.*)?$ ]] || [[ "$val" =~ ^\'(.*)\'[[:space:]]*(#.*)?$ ]]; then
      val="${BASH_REMATCH[1]}"
    else
      val="${val%%[[:space:]]#*}"
      val="${val%"${val##*[![:space:]]}"}"
    fi
    CL_ENV["$key"]="$val"
  done <"$file"
}

# cl_env_has KEY: whether the env file set KEY (even to an empty value).
cl_env_has() {
  [ -n "${CL_ENV[$1]+set}" ]
}

# cl_wsk_setup TMPDIR: when the env file names the OpenWhisk host and key, hands them to wsk
# through a private wskprops file (WSK_CONFIG_FILE), never on its command line. Otherwise wsk
# uses its own configuration (~/.wskprops, wsk property set).
cl_wsk_setup() {
  local dir="$1" auth="" host=""
  host="${CL_ENV[OPENWHISK_APIHOST]:-}"
  auth="${CL_ENV[OPENWHISK_AUTH]:-}"
  if [ -z "$auth" ] && [ -n "${CL_ENV[OPENWHISK_AUTH_FILE]:-}" ]; then
    [ -r "${CL_ENV[OPENWHISK_AUTH_FILE]}" ] || cl_die "OPENWHISK_AUTH_FILE ${CL_ENV[OPENWHISK_AUTH_FILE]} cannot be read"
    auth="$(head -n 1 "${CL_ENV[OPENWHISK_AUTH_FILE]}")"
  fi
  [ -n "$host$auth" ] || return 0
  [ -n "$host" ] && [ -n "$auth" ] || cl_die "the env file sets only one of OPENWHISK_APIHOST and OPENWHISK_AUTH: set both, or neither to use wsk's own configuration"
  (umask 077 && printf 'APIHOST=%s\nAUTH=%s\n' "$host" "$auth" >"$dir/wskprops")
  export WSK_CONFIG_FILE="$dir/wskprops"
}
