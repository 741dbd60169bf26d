#!/bin/bash
# Builds a bootable Debian disk image for harden's live tests from Debian's packages only:
# an mmdebstrap root with a kernel, systemd, sshd, auditd, cloud-init and the profile's packages,
# then an ext4 file system image made from that folder with mkfs.ext4 -d (no loop device, no
# partition table: qemu boots the kernel and initrd copied out beside it).
# Usage: build-image.sh SUITE OUT_DIR PACKAGES(comma-separated)
# Writes OUT_DIR/{disk.qcow2,vmlinuz,initrd.img}; prints the build time.
set -euo pipefail
suite=$1 out=$2 packages=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/harden-vm-XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS

mmdebstrap --quiet --variant=minbase \
  --include="linux-image-amd64,initramfs-tools,systemd-sysv,udev,dbus,iproute2,curl,openssl,cloud-init,$packages" \
  --customize-hook='echo harden-vm > "$1/etc/hostname"' \
  --customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 harden-vm\n" > "$1/etc/hosts"' \
  --customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" > "$1/etc/fstab"' \
  --customize-hook='mkdir -p "$1/etc/systemd/network" && printf "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n" > "$1/etc/systemd/network/50-dhcp.network"' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service' \
  --customize-hook='chroot "$1" systemctl enable ssh.service' \
  --customize-hook='if [ -e "$1/lib/systemd/system/auditd.service" ]; then chroot "$1" systemctl enable auditd.service; fi' \
  --customize-hook='printf "datasource_list: [ NoCloud, None ]\n# a stock cloud image has locales; this one does not need them\nlocale: false\n" > "$1/etc/cloud/cloud.cfg.d/90-harden-tests.cfg"' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='printf "[Unit]\nDescription=SSH host keys for this boot\nBefore=ssh.service\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n[Install]\nWantedBy=multi-user.target\n" > "$1/etc/systemd/system/harden-test-hostkeys.service" && chroot "$1" systemctl enable harden-test-hostkeys.service' \
  --customize-hook='k=$(ls "$1"/boot/vmlinuz-* | sort -V | tail -n 1) && cp "$k" "'"$work"'/vmlinuz" && cp "$1/boot/initrd.img-${k##*/vmlinuz-}" "'"$work"'/initrd.img"' \
  "$suite" "$work/root"

mkfs.ext4 -q -L harden-root -d "$work/root" "$work/disk.raw" 4G
mkdir -p "$out"
qemu-img convert -O qcow2 "$work/disk.raw" "$out/disk.qcow2"
mv "$work/vmlinuz" "$work/initrd.img" "$out/"
echo "image built in $((SECONDS - start)) s"
