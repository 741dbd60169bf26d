#!/usr/bin/env bash
# Makes a Debian 11 (glibc 2.31) sysroot for linking the NativeAOT binary, so one harden binary
# runs on Debian 11, 12 and 13 and on Ubuntu 20.04 and later:
#   packaging/sysroot.sh DIR && dotnet publish src/Harden.Cli -c Release -o OUT -p:SysRoot=DIR
# Needs mmdebstrap and Debian's archive. DIR is made whole or not at all.
set -euo pipefail
dir=${1:?usage: packaging/sysroot.sh DIR}
if [ -e "$dir/usr/lib/x86_64-linux-gnu/libc_nonshared.a" ]; then echo "$dir"; exit 0; fi
command -v mmdebstrap >/dev/null || { echo "sysroot: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 1; }
mkdir -p "$(dirname "$dir")"
partial="$dir.partial.$$"
trap 'rm -rf "$partial"' EXIT
echo "sysroot: building a Debian 11 sysroot in $dir (about 30 s, once)" >&2
mmdebstrap --quiet --variant=minbase --include=libc6-dev,libgcc-10-dev bullseye "$partial" >&2
# The linker reads the sysroot from outside: its absolute links (e.g. /lib64/ld-linux-x86-64.so.2,
# named by libc.so) would resolve on this machine, so they become relative.
find "$partial" -type l -lname '/*' -print0 | while IFS= read -r -d '' link; do
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$partial$(readlink "$link")")" "$link"
done
rm -rf "$dir" && mv "$partial" "$dir"
echo "$dir"
