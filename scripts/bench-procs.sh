# Sourced by scripts/bench-compare and scripts/bench-ftrace: finding the
# processes of a harness run.

# find_clients KUGURI_BIN [TRIES]: wait (0.01 s per try, 1000 tries by
# default) until the harness has started kuguri and ssh -L with
# aes128-gcm; sets k and s to their pids. Fails if they do not appear.
find_clients() {
	k="" s=""
	for _ in $(seq "${2:-1000}"); do
		k=$(pgrep -f "^$1 --config" | head -1 || true)
		s=$(pgrep -f "ssh -F /dev/null.*aes128-gcm" | head -1 || true)
		[ -n "$k" ] && [ -n "$s" ] && return 0
		sleep 0.01
	done
	return 1
}

# peer_sshd PID: the sshd process at the other end of PID's connection to
# the harness's sshd (the one listening on 127.0.0.1).
peer_sshd() {
	local port l
	port=$(ss -tlnpH | grep '"sshd' | grep 127.0.0.1 | awk '{print $4}' | sed 's/.*://' | head -1)
	l=$(ss -tnpH state established "( dport = :$port )" | grep "pid=$1," | awk '{print $3}' | sed 's/.*://' | head -1)
	ss -tnpH state established "( sport = :$port and dport = :$l )" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un | tail -1
}
