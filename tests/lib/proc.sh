# proc.sh - process helpers shared by the tests and the benchmarks (source me).

# alive PID: exists and is not a zombie
alive() {
	[ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
	local st; st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop_pid PID [secs]: TERM, wait up to secs, then KILL
stop_pid() {
	local pid=$1 t=${2:-10} i=0
	alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	while alive "$pid" && [ $i -lt $((t * 20)) ]; do sleep 0.05; i=$((i + 1)); done
	alive "$pid" && kill -KILL "$pid" 2>/dev/null
	return 0
}
