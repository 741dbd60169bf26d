#!/usr/bin/env bash
# Times `harden plan` and `harden apply` on the cached Debian test root (median of N runs).
# Usage: tests/bench/bench.sh [runs] [r2r]   (run the test suite once first, so the root is cached;
#        "r2r" benchmarks the single-file ReadyToRun build instead of the default NativeAOT one)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
# The newest cached root: older ones (an earlier package list) lack packages the profile now installs.
tarball=$(find "${HARDEN_TEST_CACHE:-/var/cache/harden-tests}" -maxdepth 1 -name "rootfs-bookworm-*.tar" -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2-)
[ -n "$tarball" ] || { echo "no cached Debian root: run the tests once first" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# NativeAOT is what publish gives; "r2r" times the ReadyToRun build (-p:PublishAot=false) instead.
publish_flags=(-p:PublishAot=true)
[ "${2:-}" = "r2r" ] && publish_flags=(-p:PublishAot=false)
dotnet publish src/Harden.Cli -c Release -o "$out/bin" "${publish_flags[@]}" >/dev/null
harden="$out/bin/harden"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# A run that fails is not a timing: it is reported and the benchmark stops.
ms() {
  local s e; s=$(date +%s%N)
  if ! "$@" >/dev/null 2>"$out/err"; then echo "FAILED: $* -> $(tail -n 1 "$out/err")" >&2; echo FAIL; return; fi
  e=$(date +%s%N); echo $(((e - s) / 1000000))
}
check() { for t in "$@"; do [ "$t" != FAIL ] || { echo "a run failed; no timing reported" >&2; exit 1; }; done; }

fresh_root() {
  rm -rf "$out/root"; mkdir -p "$out/root"
  tar --numeric-owner -xpf "$tarball" -C "$out/root"
  chroot "$out/root" useradd -m alice
  mkdir -p "$out/root/home/alice/.ssh" "$out/root/run/sshd"
  echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBp16y23I6QhpupVVc971yPQuEpvEhpZvf0L07SsCrhW alice@bench" > "$out/root/home/alice/.ssh/authorized_keys"
}
args=(--profile debian-hipaa --root "$out/root" --set ssh_allow_members=alice --operator alice)

fresh_root
plan=(); for _ in $(seq "$runs"); do plan+=("$(ms "$harden" plan "${args[@]}")"); done
apply=(); noop=()
for _ in $(seq "$runs"); do
  fresh_root
  apply+=("$(ms "$harden" apply --yes "${args[@]}")")
  noop+=("$(ms "$harden" apply --yes "${args[@]}")")
done
check "${plan[@]}" "${apply[@]}" "${noop[@]}"
echo "plan (changes pending)   median of $runs: $(printf '%s\n' "${plan[@]}" | median) ms  [${plan[*]}]"
echo "apply (fresh root)       median of $runs: $(printf '%s\n' "${apply[@]}" | median) ms  [${apply[*]}]"
echo "apply (nothing to do)    median of $runs: $(printf '%s\n' "${noop[@]}" | median) ms  [${noop[*]}]"
