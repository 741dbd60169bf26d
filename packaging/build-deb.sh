#!/usr/bin/env bash
# Builds harden_<version>_amd64.deb with dpkg-deb from this repository: the NativeAOT binary as
# /usr/bin/harden, the profiles and templates under /usr/share/harden for local copies, harden.1
# generated from the command tree, bash and zsh completion, the drift timer units (not enabled),
# and /var/lib/harden 0700.
# The binary is linked against Debian 11's glibc (packaging/sysroot.sh), so the one package installs
# on Debian 11, 12 and 13.
# Usage: packaging/build-deb.sh [OUT_DIR]
#   (needs the .NET SDK, gcc, zlib1g-dev, binutils, dpkg-dev and, for the sysroot, mmdebstrap)
# HARDEN_SYSROOT names the sysroot folder (default: ~/.cache/harden/sysroot-bullseye).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath "${1:-.}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# HARDEN_BINARY names a NativeAOT binary already published from this tree (the tests reuse theirs).
if [ -n "${HARDEN_BINARY:-}" ]; then
  harden=$HARDEN_BINARY
else
  sysroot=$(packaging/sysroot.sh "${HARDEN_SYSROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/harden/sysroot-bullseye}")
  echo "build-deb: publishing the NativeAOT binary against $sysroot" >&2
  dotnet publish src/Harden.Cli -c Release -o "$work/publish" -p:SysRoot="$sysroot" >/dev/null
  harden="$work/publish/harden"
fi
"$harden" version | grep -q '^build: NativeAOT' || { echo "build-deb: $harden is not a NativeAOT build" >&2; exit 1; }
version=$("$harden" version | sed -n 's/^harden //p')
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-deb: unexpected version '$version'" >&2; exit 1; }
# The binary needs the glibc it was linked against (symbol versions), no newer.
glibc=$(objdump -T "$harden" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)

pkg="$work/harden_${version}_amd64"
install -D -m 0755 "$harden" "$pkg/usr/bin/harden"
install -d -m 0755 "$pkg/usr/share/harden"
cp -r profiles templates "$pkg/usr/share/harden/"
find "$pkg/usr/share/harden" -type d -exec chmod 0755 {} + && find "$pkg/usr/share/harden" -type f -exec chmod 0644 {} +
install -d -m 0755 "$pkg/usr/share/man/man1"
"$harden" manpage | gzip -9n > "$pkg/usr/share/man/man1/harden.1.gz"
chmod 0644 "$pkg/usr/share/man/man1/harden.1.gz"
install -D -m 0644 packaging/completion/harden.bash "$pkg/usr/share/bash-completion/completions/harden"
install -D -m 0644 packaging/completion/_harden "$pkg/usr/share/zsh/vendor-completions/_harden"
install -D -m 0644 packaging/systemd/harden-check.service "$pkg/usr/lib/systemd/system/harden-check.service"
install -D -m 0644 packaging/systemd/harden-check.timer "$pkg/usr/lib/systemd/system/harden-check.timer"
install -d -m 0700 "$pkg/var/lib/harden"
install -D -m 0644 packaging/debian/copyright "$pkg/usr/share/doc/harden/copyright"
sed "s/@VERSION@/$version/; s/@DATE@/$(date -u -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")/" packaging/debian/changelog \
  | gzip -9n > "$pkg/usr/share/doc/harden/changelog.gz"
chmod 0644 "$pkg/usr/share/doc/harden/changelog.gz"
install -D -m 0644 packaging/debian/lintian-overrides "$pkg/usr/share/lintian/overrides/harden"

install -d -m 0755 "$pkg/DEBIAN"
sed "s/@VERSION@/$version/; s/@GLIBC@/$glibc/; s/@SIZE@/$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)/" packaging/debian/control > "$pkg/DEBIAN/control"
install -m 0755 packaging/debian/postinst packaging/debian/prerm "$pkg/DEBIAN/"
(cd "$pkg" && find usr -type f -exec md5sum {} + | sort -k 2) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control"

dpkg-deb --root-owner-group --build "$pkg" "$out/harden_${version}_amd64.deb" >/dev/null
echo "$out/harden_${version}_amd64.deb"
