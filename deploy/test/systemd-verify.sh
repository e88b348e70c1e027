#!/usr/bin/env bash
# Checks deploy/systemd/ringkv.service with `systemd-analyze verify` (root; .ci/run calls it, and
# installs the systemd package first when it is missing). The unit is laid out by deploy/install.sh
# under a scratch root with a copy of the system's units, so that verify also finds the launcher
# its ExecStart names and the targets it is ordered after. Any message of
# verify fails the check, warnings included (an unknown directive is only a warning to systemd).
# A copy of the unit with one misspelled directive must fail the same check: that proves the check
# can fail. Takes a few seconds once the server jar exists.
set -euo pipefail
repo_dir=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
command -v systemd-analyze >/dev/null ||
  { echo "systemd-verify: systemd-analyze is missing (apt-get install systemd)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ringkv-systemd.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$repo_dir/deploy/install.sh" --root "$work/root" --no-user 2>/dev/null
# The system's own units (the targets ringkv.service is ordered after), as on an installed host.
mkdir -p "$work/root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$work/root/usr/lib/systemd/"

# Prints verify's messages for unit file $1 (in the scratch root); returns non-zero on any.
verify() {
  local output status=0
  output=$(cd "$work/root/etc/systemd/system" &&
    systemd-analyze verify --root="$work/root" --man=no "$1" 2>&1) || status=$?
  output=$(printf '%s\n' "$output" | grep -v -e '^$' || true)
  if [ "$status" != 0 ] || [ -n "$output" ]; then
    printf '%s\n' "$output"
    return 1
  fi
}

unit_dir="$work/root/etc/systemd/system"
if ! messages=$(verify ringkv.service); then
  echo "systemd-verify: ringkv.service has problems:" >&2
  printf '%s\n' "$messages" >&2
  exit 1
fi
sed 's/^LimitNOFILE=/LimitNOFILES=/' "$unit_dir/ringkv.service" >"$unit_dir/ringkv-typo.service"
if verify ringkv-typo.service >/dev/null; then
  echo "systemd-verify: a misspelled directive passed the check, so the check proves nothing" >&2
  exit 1
fi
echo "systemd-verify: ringkv.service passes systemd-analyze verify"
echo "1 passed, 0 failed"
