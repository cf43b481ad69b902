# common.sh - helpers for proxymilter's integration tests (source me).
#
# Every peer is started by the test itself, listens on 127.0.0.0/8 or ::1,
# is tracked by a pid file under $T (the test's own directory) and is
# stopped by that pid only.  Results are printed as "PASS: name" or
# "FAIL: name (why)"; tests/run-all.sh counts them.

set -u
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PM_BIN=${PM_BIN:-$TOP/build/milter/proxymilter}
T=${T:-$(mktemp -d /tmp/pmtest.XXXXXX)}
chmod 755 "$T"
PIDS_FILE=$T/pids
: >"$PIDS_FILE"
NPASS=0
NFAIL=0

pass() { NPASS=$((NPASS + 1)); echo "PASS: $1"; }
fail() { NFAIL=$((NFAIL + 1)); echo "FAIL: $1${2:+ ($2)}"; }
check() { # check NAME CMD... : pass if CMD succeeds
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
skip_all() { echo "SKIP: $1"; exit 0; }

require_loopback() {
	local a
	for a in "$@"; do
		case "$a" in
		127.[0-9]*.[0-9]*.[0-9]*|::1) ;;
		*) echo "refusing non-loopback address $a" >&2; exit 2 ;;
		esac
	done
}

. "$TOP/tests/lib/proc.sh"

# spawn NAME LOG CMD...: run CMD in the background in its own session,
# record "NAME PID" so that stop_all can end it by pid
spawn() {
	local name=$1 log=$2; shift 2
	local pf=$T/$name.pid
	rm -f "$pf"
	setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@" </dev/null >>"$log" 2>&1 &
	local i=0
	while [ ! -s "$pf" ] && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
	echo "$name $(cat "$pf")" >>"$PIDS_FILE"
}

stop_name() { # stop one service started with spawn
	local pf=$T/$1.pid
	[ -s "$pf" ] && stop_pid "$(cat "$pf")" "${2:-10}"
	rm -f "$pf"
}

stop_all() {
	local name pid
	[ -f "$T/postfix/etc/main.cf" ] && postfix -c "$T/postfix/etc" stop >/dev/null 2>&1
	local pd
	for pd in $(cat "$T/postfix-instances" 2>/dev/null); do	# clients' own servers
		postfix -c "$pd/etc" stop >/dev/null 2>&1
		[ -f "$pd/queue/pid/master.pid" ] && stop_pid "$(tr -dc 0-9 <"$pd/queue/pid/master.pid")" 5
	done
	# TERM everything at once (libmilter takes seconds to wind down), then wait
	local pids; pids=$(awk '{print $2}' "$PIDS_FILE" 2>/dev/null)
	for pid in $pids; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
	for pid in $pids; do stop_pid "$pid" 5; done
	if [ -f "$T/postfix/queue/pid/master.pid" ]; then
		local mp; mp=$(tr -dc 0-9 <"$T/postfix/queue/pid/master.pid")
		[ -n "$mp" ] && stop_pid "$mp" 5
	fi
}

# listening HOST PORT: a LISTEN socket exists (checked with ss: no connection)
listening() {
	local h=$1 p=$2
	case "$h" in *:*) h="[$h]" ;; esac
	ss -Hltn 2>/dev/null | awk '{print $4}' | grep -qxF -- "$h:$p"
}

# must_be_free HOST PORT: refuse to start a peer where something already
# listens (a stray process would answer in its place)
must_be_free() {
	if listening "$1" "$2"; then
		echo "$1:$2 is already in use by another process" >&2
		return 1
	fi
}

wait_listen() { # wait_listen HOST PORT [secs]
	local i=0 t=${3:-15}
	while [ $i -lt $((t * 20)) ]; do
		listening "$1" "$2" && return 0
		sleep 0.05; i=$((i + 1))
	done
	echo "nothing listens on $1:$2 after ${t}s" >&2
	return 1
}

# wait_for FILE PATTERN [secs]: until grep -E finds PATTERN in FILE
wait_for() {
	local i=0 t=${3:-10}
	while [ $i -lt $((t * 20)) ]; do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05; i=$((i + 1))
	done
	return 1
}

# run a daemon with its DNS and hostname kept on loopback (see ns-exec.sh)
NS_EXEC=$TOP/tests/lib/ns-exec.sh

summary() {
	# a daemon built with sanitizers reports into its log: any report fails
	local rep
	rep=$(grep -rlE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$T" 2>/dev/null | head -3)
	if [ -n "$rep" ]; then
		fail "no sanitizer reports" "$rep"
	fi
	echo "${NPASS} passed, ${NFAIL} failed"
	[ "$NFAIL" -eq 0 ]
}
