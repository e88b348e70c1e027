#!/bin/sh
# Installs a ringkv node the way ringkv.service expects it:
#   /opt/ringkv/lib/            the server jar and its dependencies
#   /opt/ringkv/bin/ringkv-node the launcher (ExecStart of the unit, entrypoint of the image)
#   /etc/systemd/system/ringkv.service
#   /etc/default/ringkv, /etc/ringkv/ringkv.yaml   (examples; kept when they already exist)
#   the system user and group ringkv (its data lives in /var/lib/ringkv, made by systemd)
# Usage: deploy/install.sh [--root DIR] [--no-user]
#   --root DIR   install under DIR instead of / (a container root, or a test's scratch folder)
#   --no-user    do not create the ringkv user (DIR has no /etc/passwd)
# Builds the server first when its jar is missing. Enabling is left to the operator:
#   systemctl daemon-reload && systemctl enable --now ringkv
set -eu
repo_dir=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
root=""
make_user=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a folder}; shift 2 ;;
    --no-user) make_user=no; shift ;;
    *) echo "install.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
done
prefix=/opt/ringkv

server_jar() {
  for candidate in "$repo_dir"/server/target/ringkv-server-*.jar; do
    case "$candidate" in
      *-sources.jar | *-tests.jar | *\**) ;;
      *) printf '%s\n' "$candidate"; return 0 ;;
    esac
  done
}
jar=$(server_jar)
if [ -z "$jar" ] || [ ! -d "$repo_dir/server/target/lib" ]; then
  echo "install.sh: building the server (./mvnw -B -q -pl server -am package -DskipTests)" >&2
  (cd "$repo_dir" && ./mvnw -B -q -pl server -am package -DskipTests) >&2
  jar=$(server_jar)
fi
[ -n "$jar" ] || { echo "install.sh: no server jar under $repo_dir/server/target" >&2; exit 1; }

install -d -m 0755 "$root$prefix/bin" "$root$prefix/lib" "$root$prefix/docs" \
  "$root/etc/systemd/system" "$root/etc/default" "$root/etc/ringkv"
rm -f "$root$prefix"/lib/*.jar
install -m 0644 "$jar" "$repo_dir"/server/target/lib/*.jar "$root$prefix/lib/"
install -m 0755 "$repo_dir/deploy/ringkv-node" "$root$prefix/bin/ringkv-node"
install -m 0644 "$repo_dir/bin/jdk-env.sh" "$root$prefix/bin/jdk-env.sh"
install -m 0644 "$repo_dir/docs/operations.md" "$root$prefix/docs/operations.md"
install -m 0644 "$repo_dir/deploy/systemd/ringkv.service" "$root/etc/systemd/system/ringkv.service"
[ -e "$root/etc/default/ringkv" ] ||
  install -m 0644 "$repo_dir/deploy/systemd/ringkv.default" "$root/etc/default/ringkv"
[ -e "$root/etc/ringkv/ringkv.yaml" ] ||
  install -m 0644 "$repo_dir/deploy/systemd/ringkv.yaml" "$root/etc/ringkv/ringkv.yaml"

if [ "$make_user" = yes ] && ! chroot "${root:-/}" getent passwd ringkv >/dev/null 2>&1; then
  if [ -n "$root" ]; then
    useradd --root "$root" --system --user-group --home-dir /var/lib/ringkv --no-create-home \
      --shell /usr/sbin/nologin ringkv
  else
    useradd --system --user-group --home-dir /var/lib/ringkv --no-create-home \
      --shell /usr/sbin/nologin ringkv
  fi
fi
echo "install.sh: installed into ${root:-/}$prefix; edit /etc/ringkv/ringkv.yaml, then" \
  "systemctl daemon-reload && systemctl enable --now ringkv" >&2
