#!/usr/bin/env bash
# Builds the ringkv node image on this machine from what it can reach: Debian's package mirror
# (the one apt already uses) and the project's own build, no container registry. Root only.
#   1. debootstrap a minimal Debian root (trixie, for its Java 21 runtime), once: kept in
#      RINGKV_IMAGE_CACHE (default /var/cache/ringkv-image) and imported as localhost/ringkv-base
#   2. build deploy/container/Dockerfile on that base (the same file users elsewhere build on
#      debian:trixie-slim), tagged localhost/ringkv:dev (or $1)
# With --base-only it stops after step 1 (CI prepares the base while the build runs).
# Needs debootstrap and podman (apt-get install debootstrap podman); builds the server first
# when its jar is missing.
set -euo pipefail
repo_dir=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
base_only=0
if [ "${1:-}" = --base-only ]; then
  base_only=1
  shift
fi
tag=${1:-localhost/ringkv:dev}
suite=trixie
base=localhost/ringkv-base:$suite
cache=${RINGKV_IMAGE_CACHE:-/var/cache/ringkv-image}
say() { echo "build-image: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (debootstrap, podman)"; exit 2; }
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { say "$tool is missing (apt-get install $tool)"; exit 2; }
done

# The mirror apt already uses on this machine (deb822 or one-line sources).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
  grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { say "no Debian mirror found in apt's sources"; exit 2; }

if ! podman image exists "$base"; then
  rootfs="$cache/rootfs-$suite"
  if [ ! -f "$cache/rootfs-$suite.done" ]; then
    say "debootstrap $suite from $mirror into $rootfs (a few minutes, once)"
    rm -rf "$rootfs"
    mkdir -p "$cache"
    debootstrap --variant=minbase --include=openjdk-21-jre-headless,ca-certificates \
      "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
    printf 'deb %s %s main\n' "$mirror" "$suite" >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    touch "$cache/rootfs-$suite.done"
  fi
  say "importing $rootfs as $base"
  tar -C "$rootfs" --numeric-owner -cf - . | podman import - "$base" >/dev/null
fi

if [ "$base_only" = 1 ]; then
  say "base image $base ready"
  exit 0
fi

if ! ls "$repo_dir"/server/target/ringkv-server-*.jar >/dev/null 2>&1 ||
  [ ! -d "$repo_dir/server/target/lib" ]; then
  say "building the server (./mvnw -B -q -pl server -am package -DskipTests)"
  (cd "$repo_dir" && ./mvnw -B -q -pl server -am package -DskipTests) >&2
fi
say "building $tag from deploy/container/Dockerfile on $base"
podman build --isolation=chroot --network=host --pull=never --build-arg "BASE=$base" \
  -f "$repo_dir/deploy/container/Dockerfile" -t "$tag" "$repo_dir" >&2
say "built $tag"
