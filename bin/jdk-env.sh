# shellcheck shell=sh
# Sourced (not executed) by ./mvnw and every ringkv script: makes sure JAVA_HOME points at a JDK 21+.
# Keeps JAVA_HOME when it already holds a JDK 21 or newer; otherwise picks the newest JDK 21+ under
# /usr/lib/jvm (or RINGKV_JDK_DIRS, space-separated), exports JAVA_HOME and puts its bin first on PATH.
# With no suitable JDK it prints what to install and returns non-zero. RINGKV_JDK_TOOL=java makes a
# runtime without javac enough (deploy/ringkv-node only runs a node).

ringkv_jdk_major() {
  # Prints the major version of the JDK at $1 (from its release file), or nothing.
  [ -f "$1/release" ] || return 0
  sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release" | head -n 1
}

ringkv_find_jdk() {
  ringkv_min_major=21
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    ringkv_major=$(ringkv_jdk_major "$JAVA_HOME")
    if [ -n "$ringkv_major" ] && [ "$ringkv_major" -ge "$ringkv_min_major" ]; then
      return 0
    fi
  fi
  ringkv_best=""
  ringkv_best_major=0
  # Callers may run with globbing off (set -f); the search below needs it.
  case $- in *f*) ringkv_noglob=1 ;; *) ringkv_noglob=0 ;; esac
  set +f
  ringkv_candidates=$(printf '%s\n' ${RINGKV_JDK_DIRS:-/usr/lib/jvm/*})
  [ "$ringkv_noglob" = 1 ] && set -f
  for ringkv_dir in $ringkv_candidates; do
    [ -x "$ringkv_dir/bin/${RINGKV_JDK_TOOL:-javac}" ] || continue
    ringkv_major=$(ringkv_jdk_major "$ringkv_dir")
    [ -n "$ringkv_major" ] || continue
    if [ "$ringkv_major" -ge "$ringkv_min_major" ] && [ "$ringkv_major" -gt "$ringkv_best_major" ]; then
      ringkv_best="$ringkv_dir"
      ringkv_best_major="$ringkv_major"
    fi
  done
  if [ -z "$ringkv_best" ]; then
    echo "ringkv needs a JDK 21 or newer, and none was found (JAVA_HOME=${JAVA_HOME:-unset}, searched ${RINGKV_JDK_DIRS:-/usr/lib/jvm/*})." >&2
    echo "Install one, e.g. 'apt-get install openjdk-21-jdk-headless' (or Temurin 21+), or set JAVA_HOME to it." >&2
    return 1
  fi
  JAVA_HOME="$ringkv_best"
  export JAVA_HOME
  PATH="$JAVA_HOME/bin:$PATH"
  export PATH
}

ringkv_find_jdk
