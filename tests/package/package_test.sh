#!/usr/bin/env bash
# The Debian package, as an operator gets it: scripts/package.sh builds it from the build
# directory; lintian finds no error or warning; dpkg installs it on this machine; the unit
# passes `systemd-analyze verify`, the packaged config `batond --check-config`; the baton user
# and group exist and the config is theirs to read; batond runs as the baton user on a
# private Redis, its socket is group baton, mode 0660, and `batonctl status` and
# `batonctl lock NAME -- COMMAND` work through it; purging removes it. Needs root (dpkg).
#
# Usage: tests/package/package_test.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
work_name=package-test
installed=0
extra_cleanup() {
  if [[ $installed == 1 ]]; then dpkg --purge baton >/dev/null 2>&1 || true; fi
}
# shellcheck source=tests/package/harness.sh
source "$repo/tests/package/harness.sh"

# This test installs and purges the package: never over a real installation.
if dpkg-query -W -f='${Status}' baton 2>/dev/null | grep -q installed; then
  fail "a baton package is installed on this machine; this test would purge it"
fi
command -v lintian >/dev/null || fail "lintian is not installed (scripts/setup.sh installs it)"

step "build the package"
deb=$(bash "$repo/scripts/package.sh" "$build" "$work")
[[ -f $deb ]] || fail "no package built"
dpkg-deb -I "$deb" | sed -n 's/^ \(Package\|Version\|Depends\|Installed-Size\):/  \1:/p'

step "lintian: no error, no warning"
if ! lint=$(lintian --fail-on error,warning "$deb" 2>&1); then
  echo "$lint" >&2
  fail "lintian found problems"
fi

step "install"
installed=1 # also when dpkg -i fails half-way: the cleanup purges what it left
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
[[ $(command -v batond) == /usr/bin/batond ]] || fail "batond is not /usr/bin/batond"
[[ $(command -v batonctl) == /usr/bin/batonctl ]] || fail "batonctl is not /usr/bin/batonctl"
/usr/bin/batond --version | grep -q '^batond ' || fail "batond --version"
dpkg-query -W -f='${Conffiles}\n' baton | grep -q '/etc/baton/baton.yaml' ||
  fail "/etc/baton/baton.yaml is not a conffile"
for page in /usr/share/man/man8/batond.8.gz /usr/share/man/man1/batonctl.1.gz \
  /usr/share/man/man5/baton.yaml.5.gz; do
  [[ -f $page ]] || fail "no $page"
  zcat "$page" | grep -q '^\.TH ' || fail "$page is not a man page"
done
bash -n /usr/share/bash-completion/completions/batonctl || fail "bash completion does not parse"

step "the unit and the config"
systemd-analyze verify /lib/systemd/system/batond.service 2>"$work/verify.log" ||
  { cat "$work/verify.log" >&2; fail "systemd-analyze verify"; }
/usr/bin/batond --check-config /etc/baton/baton.yaml || fail "the packaged config is not valid"

step "the baton user and group"
getent passwd baton >/dev/null || fail "no baton user"
getent group baton >/dev/null || fail "no baton group"
[[ $(stat -c '%U:%G %a' /etc/baton/baton.yaml) == "root:baton 640" ]] ||
  fail "/etc/baton/baton.yaml is $(stat -c '%U:%G %a' /etc/baton/baton.yaml), not root:baton 640"

step "batond runs as baton; its socket is the group's"
start_redis "$work/redis.sock"
install -d -o baton -g baton -m 0750 "$work/run" "$work/state"
runuser -u baton -- /usr/bin/batond --config /etc/baton/baton.yaml \
  --redis "unix://$work/redis.sock" --socket "$work/run/baton.sock" --http off \
  --state-dir "$work/state" --node-id packaged --log-level warning 2>"$work/batond.log" &
pids+=($!)
for _ in $(seq 200); do [[ -S $work/run/baton.sock ]] && break; sleep 0.05; done
[[ -S $work/run/baton.sock ]] || { cat "$work/batond.log" >&2; fail "batond did not bind"; }
[[ $(stat -c '%U:%G %a' "$work/run/baton.sock") == "baton:baton 660" ]] ||
  fail "the socket is $(stat -c '%U:%G %a' "$work/run/baton.sock"), not baton:baton 660"
for _ in $(seq 100); do
  batonctl -s "$work/run/baton.sock" status >/dev/null 2>&1 && break
  sleep 0.1
done
batonctl -s "$work/run/baton.sock" status || fail "batonctl status"
out=$(batonctl -s "$work/run/baton.sock" lock nightly -- sh -c 'echo "token $BATON_FENCING_TOKEN"')
[[ $out =~ ^token\ [0-9]+$ ]] || fail "batonctl lock printed '$out'"
echo "  batonctl lock: $out"

step "purge"
kill "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
pids=()
dpkg --purge baton >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge"; }
installed=0
[[ ! -e /usr/bin/batond && ! -e /etc/baton/baton.yaml ]] || fail "purge left files behind"
echo "package test: ok"
