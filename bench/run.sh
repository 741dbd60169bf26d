#!/usr/bin/env bash
# Benchmarks the shipped binary as whole processes with hyperfine on a real Debian 12 root:
# plan (fresh and converged), first apply, converged apply, rollback, check, peak RSS, the floor
# (one `chroot ROOT sshd -T`), an equivalent Ansible play in check and apply mode when Debian's
# ansible is installed, and how plan scales with managed resources and with unrelated files.
# Writes bench/results.md (and the raw hyperfine JSON beside it, in bench/out/).
#
# Usage: bench/run.sh [RUNS]      (as root; RUNS >= 7, default 10)
# Needs: the .NET SDK, gcc and zlib1g-dev (NativeAOT), hyperfine and time (installed with apt-get
# when missing), and a cached test root (the integration tests build it) or mmdebstrap to build one.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
[ "$runs" -ge 7 ] || { echo "bench: use at least 7 runs" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (apply and rollback chown files in the root and use chroot): sudo bench/run.sh" >&2; exit 1; }
say() { printf 'bench: %s\n' "$*" >&2; }

missing=()
for tool in hyperfine:hyperfine /usr/bin/time:time gcc:gcc; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /dev/shm/harden-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/out

say "publishing the NativeAOT binary (dotnet publish src/Harden.Cli -c Release)"
dotnet publish src/Harden.Cli -c Release -o "$work/bin" >/dev/null
harden="$work/bin/harden"

# The test root: the newest cached one the integration tests built, else one built here.
cache=${HARDEN_TEST_CACHE:-/var/cache/harden-tests}
tarball=$(find "$cache" -maxdepth 1 -name "rootfs-bookworm-*.tar" -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2- || true)
if [ -z "$tarball" ]; then
  packages=$(tr '\n' ',' < tests/Harden.Integration.Tests/root-packages.txt | sed 's/,$//')
  say "no cached root: building one with mmdebstrap (about a minute)"
  tarball="$work/rootfs.tar"
  mmdebstrap --quiet --variant=minbase --include="$packages" bookworm "$tarball"
fi

pristine="$work/pristine"
mkdir -p "$pristine" && tar --numeric-owner -xpf "$tarball" -C "$pristine"
chroot "$pristine" useradd -m -s /bin/bash alice
mkdir -p "$pristine/home/alice/.ssh" "$pristine/run/sshd"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBp16y23I6QhpupVVc971yPQuEpvEhpZvf0L07SsCrhW alice@bench" > "$pristine/home/alice/.ssh/authorized_keys"
args=(--profile debian-hipaa --set ssh_allow_members=alice)

# reset.sh NAME: NAME becomes a fresh copy of the pristine root (hyperfine runs it before each timed run).
cat > "$work/reset.sh" <<EOF
#!/bin/sh
set -e
rm -rf "$work/\$1" && cp -a "$pristine" "$work/\$1"
[ "\${2:-}" != applied ] || "$harden" apply --yes --root "$work/\$1" ${args[*]} >/dev/null
EOF
chmod +x "$work/reset.sh"
"$work/reset.sh" fresh
"$work/reset.sh" converged applied
"$work/reset.sh" scale

hf() { # NAME, then hyperfine arguments
  local name=$1; shift
  hyperfine --style basic --warmup 2 --runs "$runs" --export-json "bench/out/$name.json" "$@" >&2
}

say "timing (hyperfine, $runs runs each after 2 warm-ups)"
hf plan-fresh -N "$harden plan --root $work/fresh ${args[*]}"
hf plan-converged -N "$harden plan --root $work/converged ${args[*]}"
hf apply-first --prepare "$work/reset.sh run" "$harden apply --yes --root $work/run ${args[*]}"
hf apply-converged -N "$harden apply --yes --root $work/converged ${args[*]}"
hf rollback --prepare "$work/reset.sh run applied" "$harden rollback --yes --root $work/run"
hf check -N --ignore-failure "$harden check --format json --root $work/converged ${args[*]}"
hf floor-sshd -N "chroot $work/converged /usr/sbin/sshd -T -C user=alice,host=bench,addr=127.0.0.1"

# Peak resident memory, the median of five runs, in MB.
rss() {
  for _ in 1 2 3 4 5; do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; done | sort -n | sed -n 3p | awk '{printf "%.1f", $1 / 1024}'
}
rss_plan=$(rss "$harden" plan --root "$work/fresh" "${args[@]}")
rss_apply=$(rss "$harden" apply --yes --root "$work/converged" "${args[@]}")
rss_check=$(rss "$harden" check --format json --root "$work/converged" "${args[@]}" || true)

# The Ansible comparison: the same four files, templated from harden's own output.
ansible_ran=no
if command -v ansible-playbook >/dev/null; then
  ansible_ran=yes
  play="$work/ansible"
  mkdir -p "$play/files"
  cp bench/ansible/equivalent.yml "$play/"
  for f in etc/ssh/sshd_config.d/00-hipaa.conf etc/security/pwquality.conf etc/profile.d/hipaa-timeout.sh etc/audit/rules.d/hipaa.rules; do
    # raw: the files' own braces (e.g. ${#x} in shell) are content, not Jinja.
    { printf '{%% raw %%}'; cat "$work/converged/$f"; printf '{%% endraw %%}'; } > "$play/files/$(basename "$f")"
  done
  printf 'target ansible_connection=community.general.chroot ansible_host=%s/run\n' "$work" > "$play/inventory.ini"
  export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCAL_TEMP="$play/tmp"
  say "Ansible: $(ansible-playbook --version | head -n 1)"
  hf ansible-check --prepare "$work/reset.sh run" "ansible-playbook -i $play/inventory.ini $play/equivalent.yml --check"
  hf ansible-apply --prepare "$work/reset.sh run" "ansible-playbook -i $play/inventory.ini $play/equivalent.yml"
else
  say "ansible-playbook is not installed (apt-get install ansible): no Ansible comparison"
fi

# Scale 1: plan time against managed resources. A profile extends debian-hipaa with N more files.
say "scaling: plan with more managed resources, and with 10,000 unrelated files"
mkdir -p "$work/scale-profiles" "$work/scale-templates/bench"
printf 'managed by harden (benchmark {{ 1 }})\n' > "$work/scale-templates/bench/file.sbn"
base=$("$harden" plan --root "$work/scale" "${args[@]}" --format json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["changes"]))')
scale_rows=()
for extra in 0 180 360 860; do
  profile="$work/scale-profiles/bench-$extra.yaml"
  {
    echo "name: bench-$extra"
    echo "description: debian-hipaa with $extra more managed files (benchmark)"
    echo "extends: debian-hipaa"
    if [ "$extra" -gt 0 ]; then
      echo "modules:"
      echo "  - id: bench-scale"
      echo "    title: Generated files"
      echo "    citations: [\"164.312(b)\"]"
      echo "    files:"
      for i in $(seq -w 1 "$extra"); do
        printf '      - {path: /etc/harden-bench/f%s.conf, template: bench/file.sbn, mode: "0644"}\n' "$i"
      done
    fi
  } > "$profile"
  hf "scale-resources-$extra" -N "$harden plan --root $work/scale --profile $profile --templates $work/scale-templates --set ssh_allow_members=alice"
  scale_rows+=("$((base + extra))|$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f" % (r["median"]*1000))' "bench/out/scale-resources-$extra.json")")
done

# Scale 2: 10,000 extra files under the PHI folder, which plan must not walk.
phi=$("$harden" profiles show debian-hipaa | sed -n 's/^ *phi_directories .*default: \([^ ,]*\).*/\1/p')
hf scale-files-0 -N "$harden plan --root $work/scale ${args[*]}"
mkdir -p "$work/scale$phi/records"
for d in $(seq 1 100); do mkdir -p "$work/scale$phi/records/$d"; for f in $(seq 1 100); do : > "$work/scale$phi/records/$d/$f.json"; done; done
hf scale-files-10000 -N "$harden plan --root $work/scale ${args[*]}"

median_ms() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f" % (r["median"]*1000))' "bench/out/$1.json"; }
spread_ms() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f–%.1f" % (r["min"]*1000, r["max"]*1000))' "bench/out/$1.json"; }
ratio() { python3 -c 'import sys; print("%.0f×" % (float(sys.argv[1]) / float(sys.argv[2])))' "$(median_ms "$1")" "$(median_ms "$2")"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "# harden benchmark"
  echo
  echo "Machine: $cpu, $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release), kernel $(uname -r); $(date -u +%Y-%m-%d)."
  echo "Binary: $("$harden" version | head -n 3 | tr '\n' ' ')"
  echo "Root: Debian 12 test root on tmpfs ($(basename "$tarball")). hyperfine $(hyperfine --version | cut -d' ' -f2), $runs runs after 2 warm-ups; median and min–max."
  echo
  echo "| command | median | min–max | peak RSS |"
  echo "|---|---|---|---|"
  echo "| \`plan\`, fresh root | $(median_ms plan-fresh) ms | $(spread_ms plan-fresh) ms | $rss_plan MB |"
  echo "| \`plan\`, converged root | $(median_ms plan-converged) ms | $(spread_ms plan-converged) ms | |"
  echo "| \`apply\`, first (no package installs) | $(median_ms apply-first) ms | $(spread_ms apply-first) ms | |"
  echo "| \`apply\`, converged | $(median_ms apply-converged) ms | $(spread_ms apply-converged) ms | $rss_apply MB |"
  echo "| \`rollback\` | $(median_ms rollback) ms | $(spread_ms rollback) ms | |"
  echo "| \`check --format json\` | $(median_ms check) ms | $(spread_ms check) ms | $rss_check MB |"
  echo "| floor: \`chroot ROOT sshd -T\` | $(median_ms floor-sshd) ms | $(spread_ms floor-sshd) ms | |"
  if [ "$ansible_ran" = yes ]; then
    echo "| Ansible play, \`--check\` (4 files) | $(median_ms ansible-check) ms | $(spread_ms ansible-check) ms | |"
    echo "| Ansible play, apply (4 files) | $(median_ms ansible-apply) ms | $(spread_ms ansible-apply) ms | |"
    echo
    echo "Ratios: Ansible \`--check\` on 4 files / harden \`plan\` on the whole profile = **$(ratio ansible-check plan-fresh)**;"
    echo "Ansible apply of 4 files / harden's first \`apply\` of the whole profile = **$(ratio ansible-apply apply-first)**."
    echo "Per managed item: Ansible \`--check\` $(python3 -c 'import sys; print("%.0f" % (float(sys.argv[1]) / 4))' "$(median_ms ansible-check)") ms a file;"
    echo "harden \`plan\` $(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$(median_ms plan-fresh)" "$base") ms a resource ($base resources)."
  fi
  echo
  echo "Scaling of \`plan\` (fresh root):"
  echo
  echo "| managed resources | median |"
  echo "|---|---|"
  for row in "${scale_rows[@]}"; do echo "| ${row%%|*} | ${row##*|} ms |"; done
  echo
  echo "| unrelated files under $phi | median |"
  echo "|---|---|"
  echo "| 0 | $(median_ms scale-files-0) ms |"
  echo "| 10,000 | $(median_ms scale-files-10000) ms |"
} > bench/results.md
cat bench/results.md
