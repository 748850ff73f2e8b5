#!/usr/bin/env bash
# The image the DaemonSet names, built by deploy/image/build.sh from Debian's packages: its OCI
# layout is consistent (every blob's digest, the layer's diff_id, the reference, the user and
# entrypoint), and its root filesystem runs: in a chroot as uid 10001 (the DaemonSet's
# runAsUser), batond --version, then batond on a private Redis with the image's own config,
# binding /run/baton/baton.sock, answered by the host's batonctl and by the image's own
# batonctl (what preStop runs). Needs root (chroot) and apt-get download (Debian's mirrors).
#
# Usage: tests/package/image_test.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
work_name=image-test
# shellcheck source=tests/package/harness.sh
source "$repo/tests/package/harness.sh"

step "build the image"
mapfile -t made < <(bash "$repo/deploy/image/build.sh" "$build" "$work/image" || true)
[[ ${#made[@]} -ge 2 ]] || fail "deploy/image/build.sh failed"
root=${made[0]}
archive=${made[1]}
[[ -x $root/usr/bin/batond && -f $archive ]] || fail "no image built"
echo "  $(du -h "$archive" | cut -f1) $archive"

step "the OCI layout"
python3 - "$work/image/oci" "$archive" <<'PY' || fail "the OCI layout is not consistent"
import gzip, hashlib, json, os, sys, tarfile
layout, archive = sys.argv[1], sys.argv[2]
blobs = os.path.join(layout, "blobs", "sha256")
for name in os.listdir(blobs):
    data = open(os.path.join(blobs, name), "rb").read()
    assert hashlib.sha256(data).hexdigest() == name, f"blob {name} has another digest"
def blob(descriptor):
    data = open(os.path.join(blobs, descriptor["digest"].split(":")[1]), "rb").read()
    assert len(data) == descriptor["size"], f"size of {descriptor['digest']}"
    return data
assert json.load(open(os.path.join(layout, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
index = json.load(open(os.path.join(layout, "index.json")))
top = index["manifests"][0]
assert top["annotations"]["org.opencontainers.image.ref.name"].startswith("baton/batond:")
manifest = json.loads(blob(top))
config = json.loads(blob(manifest["config"]))
layer = blob(manifest["layers"][0])
assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]
assert config["config"]["User"] == "10001:10001", config["config"]["User"]
assert config["config"]["Entrypoint"] == ["/usr/bin/batond"]
names = tarfile.open(fileobj=__import__("io").BytesIO(gzip.decompress(layer))).getnames()
assert "usr/bin/batond" in names and "usr/bin/batonctl" in names and "etc/passwd" in names
with tarfile.open(archive) as t:
    assert "./index.json" in t.getnames() or "index.json" in t.getnames()
print("  digests, sizes, diff_id, user, entrypoint: ok;", len(names), "entries in the layer")
PY

step "batond --version as uid 10001"
chroot --userspec=10001:10001 "$root" /usr/bin/batond --version | grep -q '^batond ' ||
  fail "batond --version in the image"
chroot --userspec=10001:10001 "$root" /usr/bin/batond --check-config /etc/baton/baton.yaml ||
  fail "the image's config"

step "batond serves in the image"
mkdir -p "$root/run/redis"
chmod 0777 "$root/run/redis"
start_redis "$root/run/redis/redis.sock"
chroot --userspec=10001:10001 "$root" /usr/bin/batond --config /etc/baton/baton.yaml \
  --redis unix:///run/redis/redis.sock --http off --node-id image --log-level warning \
  2>"$work/batond.log" &
pids+=($!)
for _ in $(seq 200); do [[ -S $root/run/baton/baton.sock ]] && break; sleep 0.05; done
[[ -S $root/run/baton/baton.sock ]] || { cat "$work/batond.log" >&2; fail "batond did not bind"; }
[[ $(stat -c '%u:%g' "$root/run/baton/baton.sock") == "10001:10001" ]] ||
  fail "the socket is $(stat -c '%u:%g' "$root/run/baton/baton.sock")"
reply=""
for _ in $(seq 50); do
  reply=$("$build/batonctl" -s "$root/run/baton/baton.sock" ping 2>/dev/null) && break
  sleep 0.1
done
[[ $reply == PONG ]] || fail "PING answered '$reply'"
for _ in $(seq 100); do
  chroot --userspec=10001:10001 "$root" /usr/bin/batonctl -s /run/baton/baton.sock status \
    >/dev/null 2>&1 && break
  sleep 0.1
done
chroot --userspec=10001:10001 "$root" /usr/bin/batonctl -s /run/baton/baton.sock status ||
  fail "the image's batonctl status"
echo "image test: ok"
