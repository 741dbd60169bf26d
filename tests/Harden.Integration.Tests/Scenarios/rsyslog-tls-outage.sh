#!/bin/bash
# Runs a Debian root's own rsyslogd (as harden configured it) against a real TLS receiver
# (this machine's `openssl s_server`), inside a network namespace of its own: nothing leaves it.
# Usage: unshare --net --pid --fork --kill-child rsyslog-tls-outage.sh ROOT CERTS OUT
#   (in its own PID namespace, every process it started ends with it).
#   CERTS holds srv.pem and srv.key (a certificate for "localhost" signed by the CA the root trusts).
#   OUT receives weak.log (a receiver offering only CBC with SHA-1), good-N.log (the real receiver,
#   started N times) and client.log (rsyslogd's own stderr). Each phase prints one line saying
#   what arrived; the test reads the files.
set -u
root=$1 certs=$2 out=$3
port=6514
ip link set lo up

receiver_pid=
start_receiver() { # name, extra s_server arguments...
    local name=$1; shift
    # s_server ends a session when its stdin closes: keep stdin open with a pipe that never writes.
    openssl s_server -accept "127.0.0.1:$port" -cert "$certs/srv.pem" -key "$certs/srv.key" \
        -brief -naccept 50 "$@" < <(sleep 600 2>/dev/null) > "$out/$name.log" 2>&1 &
    receiver_pid=$!
    for _ in $(seq 50); do ss -ltn | grep -q "127.0.0.1:$port " && return 0; sleep 0.1; done
    echo "receiver $name did not start"; exit 1
}
stop_receiver() { kill "$receiver_pid" 2>/dev/null; wait "$receiver_pid" 2>/dev/null; }
wait_for() { # file, text, seconds
    for _ in $(seq $(( $3 * 4 ))); do grep -q "$2" "$1" && return 0; sleep 0.25; done
    return 1
}
log() { chroot "$root" /usr/bin/logger -t hipaatest "$1"; }

chroot "$root" /usr/sbin/rsyslogd -n -iNONE -f /etc/rsyslog.conf > "$out/client.log" 2>&1 &
client=$!
trap 'kill $client $receiver_pid 2>/dev/null; wait' EXIT
for _ in $(seq 40); do [ -S "$root/dev/log" ] && break; sleep 0.25; done

# 1. A server that offers only TLS 1.2 with CBC and SHA-1 MACs: no message may reach it.
start_receiver weak -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA
log "weak-1"
sleep 6
stop_receiver
echo "phase weak: $(grep -c hipaatest "$out/weak.log") message(s) reached a CBC/SHA-1-only server"

# 2. The real receiver: the message held back is delivered, and new ones follow.
start_receiver good-1
log "up-1"
wait_for "$out/good-1.log" "hipaatest: up-1" 30 && echo "phase up: up-1 delivered"
wait_for "$out/good-1.log" "hipaatest: weak-1" 5 && echo "phase up: weak-1 delivered once a good server answered"

# 3. An outage: messages logged while the server is down arrive once it is back.
stop_receiver
log "down-1"
sleep 3
log "down-2"
sleep 3
start_receiver good-2
wait_for "$out/good-2.log" "hipaatest: down-2" 40 && echo "phase outage: down-2 delivered"
wait_for "$out/good-2.log" "hipaatest: down-1" 5 && echo "phase outage: down-1 delivered"
stop_receiver
kill $client; wait $client 2>/dev/null
echo "done"
