#!/usr/bin/env bash
# Builds the image the DaemonSet names (baton/batond:<version>) from Debian 12's packages alone:
# the baton package (scripts/package.sh) and the closure of its runtime dependencies, as
# `apt-get download` fetches them, unpacked with dpkg -x into one root filesystem; no shell,
# no package manager (a distroless image). batond runs as the `baton` user, uid and gid 10001
# (the DaemonSet's runAsUser), which owns /run/baton and /var/lib/baton. Written as an OCI
# image layout and an oci-archive tarball (deploy/image/oci_image.py): load it with
# `podman load -i FILE` or `skopeo copy oci-archive:FILE docker-daemon:baton/batond:<version>`.
#
# Usage: deploy/image/build.sh [BUILD_DIR] [OUT_DIR]   (prints the root and the archive)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=$(mkdir -p "${2:-$build/image}" && cd "${2:-$build/image}" && pwd)
uid=10001
root=$out/rootfs
rm -rf "$root" "$out/oci" "$out/debs"
mkdir -p "$root" "$out/debs"

deb=$(bash "$repo/scripts/package.sh" "$build" "$out/debs")
version=$(dpkg-deb -f "$deb" Version)
# The package's Depends, and theirs, recursively (no Recommends); adduser is for the
# package's maintainer scripts, which an image does not run.
direct=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' |
  grep -v '^adduser$' | grep -v '^$')
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances $direct | grep -v '^ ' | grep -v '^<' | sort -u)
# The version batond was linked against where this machine has it installed and the mirror
# still has it (the image holds what was tested); else the mirror's.
for package in $closure base-files netbase; do
  version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)
  (cd "$out/debs" && { [[ -n $version ]] && apt-get download "$package=$version" >/dev/null 2>&1; } ||
    apt-get download "$package" >/dev/null 2>&1) ||
    { echo "build.sh: cannot download $package" >&2; exit 1; }
done
for package in "$out"/debs/*.deb; do
  dpkg-deb -x "$package" "$root"
done
# What an image leaves out: documentation (but each package's copyright, which its licence
# asks to ship), man pages, completion.
find "$root/usr/share/doc" -type f ! -name copyright -delete
find "$root/usr/share/doc" -type l -delete
rm -rf "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/lintian" \
  "$root/usr/share/bash-completion"
# The CA bundle, for rediss:// with the system's store (ca-certificates builds it when
# installed; unpacking the package alone would not): this machine's, from Debian's package.
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
# Debian 12's packages put files in /lib and /usr/lib both: merge them under /usr, with the
# links a merged-/usr system has.
for d in bin sbin lib lib64; do
  if [[ -d $root/$d && ! -L $root/$d ]]; then
    mkdir -p "$root/usr/$d"
    cp -a "$root/$d/." "$root/usr/$d/"
    rm -rf "${root:?}/$d"
  fi
  [[ -e $root/usr/$d ]] && ln -sfn "usr/$d" "$root/$d"
done
mkdir -p "$root/etc" "$root/tmp" "$root/run/baton" "$root/var/lib/baton"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nbaton:x:%s:%s:baton coordination daemon:/var/lib/baton:/usr/sbin/nologin\n' \
  "$uid" "$uid" >"$root/etc/passwd"
printf 'root:x:0:\nbaton:x:%s:\n' "$uid" >"$root/etc/group"
chown "$uid:$uid" "$root/run/baton" "$root/var/lib/baton"
chmod 0750 "$root/run/baton" "$root/var/lib/baton"
chown root:"$uid" "$root/etc/baton/baton.yaml"
chmod 0640 "$root/etc/baton/baton.yaml"
archive=$(python3 "$repo/deploy/image/oci_image.py" "$root" "$out" "baton/batond:$version" \
  --user "$uid:$uid" --entrypoint /usr/bin/batond --cmd=--config=/etc/baton/baton.yaml \
  --port 9464 --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.title=batond")
echo "$root"
echo "$archive"
