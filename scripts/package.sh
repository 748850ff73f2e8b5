#!/usr/bin/env bash
# Builds the Debian package baton_<version>_<arch>.deb from a build directory's batond and
# batonctl (stripped), with the systemd unit, /etc/baton/baton.yaml (a conffile, from
# deploy/baton.example.yaml), man pages, bash completion, docs, and maintainer scripts that
# create the `baton` system user and group (members may use the socket) and enable the unit
# (deploy/debian/). Assembled with dpkg-deb rather than built from a source package, so that
# packaging costs seconds after the build; dependencies come from dpkg-shlibdeps.
# Prints the path of the package. Check it with `lintian`; tests/package/package_test.sh
# builds, lints, installs and verifies it.
#
# Usage: scripts/package.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=$(mkdir -p "${2:-$build}" && cd "${2:-$build}" && pwd)
version=$("$build/batond" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d /tmp/baton-package-XXXXXX)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/baton

install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/baton" \
  "$pkg/usr/share/man/man1" "$pkg/usr/share/man/man5" "$pkg/usr/share/man/man8" \
  "$pkg/usr/share/doc/baton" "$pkg/usr/share/bash-completion/completions"

for bin in batond batonctl; do
  install -m 0755 "$build/$bin" "$pkg/usr/bin/$bin"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/$bin"
done
install -m 0644 "$repo/deploy/batond.service" "$pkg/lib/systemd/system/batond.service"
install -m 0644 "$repo/deploy/baton.example.yaml" "$pkg/etc/baton/baton.yaml"
install -m 0644 "$repo/deploy/completion/batonctl.bash" \
  "$pkg/usr/share/bash-completion/completions/batonctl"
for page in batonctl.1:man1 baton.yaml.5:man5 batond.8:man8; do
  gzip -9n <"$repo/deploy/man/${page%%:*}" >"$pkg/usr/share/man/${page##*:}/${page%%:*}.gz"
done
doc=$pkg/usr/share/doc/baton
install -m 0644 "$repo/deploy/debian/copyright" "$doc/copyright"
sed "s/@VERSION@/$version/" "$repo/deploy/debian/changelog" | gzip -9n >"$doc/changelog.gz"
gzip -9n <"$repo/README.md" >"$doc/README.md.gz"
gzip -9n <"$repo/protocol/API.md" >"$doc/API.md.gz"
gzip -9n <"$repo/docs/topologies.md" >"$doc/topologies.md.gz"
gzip -9n <"$repo/deploy/baton.example.yaml" >"$doc/baton.example.yaml.gz"
find "$pkg/usr/share" -type f -exec chmod 0644 {} +

# Shared-library dependencies, as dpkg-shlibdeps finds them (it wants a debian/control).
mkdir -p "$stage/shlibs/debian"
printf 'Source: baton\n\nPackage: baton\nArchitecture: any\n' >"$stage/shlibs/debian/control"
depends=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$pkg/usr/bin/batond" "$pkg/usr/bin/batonctl" |
  sed -n 's/^shlibs:Depends=//p')
if [[ -z $depends ]]; then
  echo "package.sh: dpkg-shlibdeps found no dependencies (is dpkg-dev installed?)" >&2
  exit 1
fi
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" "$repo/deploy/debian/control.in" >"$pkg/DEBIAN/control"
install -m 0644 "$repo/deploy/debian/conffiles" "$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$repo/deploy/debian/$script" "$pkg/DEBIAN/$script"
done
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' |
  sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$pkg/DEBIAN/md5sums"

deb=$out/baton_${version}_${arch}.deb
# File times clamped to the last commit's, so that one commit gives one package.
SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s) \
  dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
