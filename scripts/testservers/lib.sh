# shellcheck shell=bash
# Shared helpers for the install-/start-/stop-*.sh scripts in scripts/testservers/
# (arca's real test servers on 127.0.0.1: S3, SFTP, restic REST). Sourced,
# never run. Everything meant for people goes to stderr; stdout is reserved
# for the `export VAR=value` lines that callers eval.

log() { printf '%s: %s\n' "${SCRIPT_NAME:-servers}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${SCRIPT_NAME:-servers}" "$*" >&2; exit 1; }

# Root of all per-instance state (pid, logs, data, keys).
servers_state_root() {
	printf '%s\n' "${SERVERS_STATE_DIR:-${TMPDIR:-/tmp}/arca-test-servers}"
}

# Cache for binaries built by install scripts.
servers_cache_dir() {
	printf '%s\n' "${SERVERS_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/arca-test-servers}"
}

# state_dir KIND -> directory for KIND and the instance named by $INSTANCE.
state_dir() {
	local kind=$1 inst=${INSTANCE:-default}
	case $inst in
	*[!A-Za-z0-9._-]* | '') die "INSTANCE may only contain letters, digits, '.', '_' and '-' (got '$inst')" ;;
	esac
	local root
	root=$(servers_state_root)
	[[ $root == /* && $root != *[[:space:]]* ]] || die "SERVERS_STATE_DIR must be an absolute path without spaces (got '$root')"
	printf '%s/%s-%s\n' "$root" "$kind" "$inst"
}

# stop_dir KIND [STATE_DIR]: the state directory a stop script acts on: the
# argument when given (it must be one made by start-KIND.sh), else the one of
# $INSTANCE.
stop_dir() {
	local kind=$1 arg=${2:-}
	if [[ -z $arg ]]; then
		state_dir "$kind"
		return
	fi
	arg=${arg%/}
	[[ $(basename "$arg") == "$kind"-* ]] || die "'$arg' is not a $kind state directory (expected .../$kind-INSTANCE)"
	if [[ -d $arg && ! -f $arg/kind ]]; then
		die "'$arg' has no 'kind' file; not a directory made by start-$kind.sh"
	fi
	printf '%s\n' "$arg"
}

# Shell-quote a value for an `export` line that is safe to eval.
shq() {
	local s=$1
	if [[ $s =~ ^[A-Za-z0-9_./:@%+,=-]+$ ]]; then
		printf '%s' "$s"
	else
		printf "'%s'" "${s//\'/\'\\\'\'}"
	fi
}

# emit VAR VALUE: print one export line to stdout and append it to $_SERVERS_ENV_FILE (when set).
emit() {
	local line
	line="export $1=$(shq "$2")"
	printf '%s\n' "$line"
	if [[ -n ${_SERVERS_ENV_FILE:-} ]]; then printf '%s\n' "$line" >>"$_SERVERS_ENV_FILE"; fi
}

random_hex() { # random_hex NBYTES
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pick_port: a port in 20000-32767 (below Linux's ephemeral range) that
# nothing listens on right now. Races are handled by the callers, which retry
# on "address already in use".
pick_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + (RANDOM % 12768)))
		if ! port_in_use "$p"; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	die "could not find a free port on 127.0.0.1"
}

# pid_alive PID: the process exists and is not a zombie whose threads have
# all exited.
pid_alive() {
	[[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
	local st tasks
	st=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
	[[ $st != Z && $st != X ]] && return 0
	# A killed multi-threaded process shows its main thread as a zombie
	# while the other threads still exit and hold its open files (a
	# tmpfs under the state directory is then still busy): it is gone
	# only when the main thread is the last one left.
	tasks=$(find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	((tasks > 1))
}

# pid_matches PID BINARY: the process PID runs BINARY (guards against PID reuse).
pid_matches() {
	local pid=$1 bin=$2 exe
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)}
	[[ $exe == "$(readlink -f "$bin")" ]]
}

# running_pid DIR: print the recorded PID if that process is alive and still
# runs the recorded binary; fail otherwise.
running_pid() {
	local dir=$1 pid bin
	[[ -f $dir/pid && -f $dir/binary ]] || return 1
	pid=$(<"$dir/pid")
	bin=$(<"$dir/binary")
	pid_alive "$pid" && pid_matches "$pid" "$bin" || return 1
	printf '%s\n' "$pid"
}

# start_bg DIR BINARY ARGS...: start BINARY detached (no stdin, output to
# DIR/server.log), record its PID in DIR/pid and the binary in DIR/binary.
# File descriptors above 2 are closed first, so the server never holds a
# caller's pipe (or our lock file) open.
start_bg() {
	local dir=$1 bin=$2
	shift 2
	: >"$dir/server.log"
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2 && fd != 255)); then
				eval "exec $fd>&-" 2>/dev/null || true
			fi
		done
		exec nohup "$bin" "$@" </dev/null >>"$dir/server.log" 2>&1
	) &
	local pid=$!
	printf '%s\n' "$pid" >"$dir/pid"
	readlink -f "$bin" >"$dir/binary"
}

# lock_instance DIR: serialize start/stop of one instance across processes
# (flock on <state root>/.locks/<name>.lock, held until the script exits).
lock_instance() {
	local lock
	lock=$(dirname "$1")/.locks/$(basename "$1").lock
	mkdir -p "$(dirname "$lock")"
	command -v flock >/dev/null 2>&1 || return 0
	exec 9>"$lock"
	flock -w "${LOCK_TIMEOUT:-900}" 9 || die "timed out waiting for the lock $lock (another start/stop running?)"
}

# wait_ready DIR TIMEOUT CHECK-COMMAND...: poll CHECK until it succeeds, the
# process dies (return 2) or TIMEOUT seconds pass (return 1).
wait_ready() {
	local dir=$1 timeout=$2
	shift 2
	local pid deadline
	pid=$(<"$dir/pid")
	deadline=$(($(date +%s%N) / 1000000 + timeout * 1000))
	while :; do
		if ! pid_alive "$pid"; then return 2; fi
		if "$@" >/dev/null 2>&1; then return 0; fi
		if (($(date +%s%N) / 1000000 > deadline)); then return 1; fi
		sleep 0.1
	done
}

# stop_pid DIR NAME: stop the process recorded in DIR/pid (TERM, then KILL
# after STOP_TIMEOUT seconds). Only ever signals that PID.
stop_pid() {
	local dir=$1 name=$2 pid bin i
	if [[ ! -f $dir/pid ]]; then
		log "$name: no PID file in $dir; nothing to stop"
		return 0
	fi
	pid=$(<"$dir/pid")
	bin=$(cat "$dir/binary" 2>/dev/null || true)
	if ! pid_alive "$pid"; then
		log "$name: PID $pid is not running"
		rm -f "$dir/pid"
		return 0
	fi
	if [[ -n $bin ]] && ! pid_matches "$pid" "$bin"; then
		log "$name: PID $pid no longer runs $bin (reused PID?); not signalling it"
		rm -f "$dir/pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < ${STOP_TIMEOUT:-10} * 10; i++)); do
		pid_alive "$pid" || break
		sleep 0.1
	done
	if pid_alive "$pid"; then
		log "$name: PID $pid ignored SIGTERM for ${STOP_TIMEOUT:-10}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	# reap if it was our child (it is not, normally)
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/pid"
	log "$name: stopped PID $pid"
}

# remove_state DIR: delete DIR unless KEEP_STATE=1. Refuses odd paths.
remove_state() {
	local dir=$1
	if [[ ${KEEP_STATE:-0} == 1 ]]; then
		log "KEEP_STATE=1: leaving $dir"
		return 0
	fi
	case $dir in
	/ | /tmp | /root | "$HOME" | '') die "refusing to remove '$dir'" ;;
	esac
	[[ -d $dir ]] && rm -rf -- "$dir"
	return 0
}

# show_log_tail DIR: last lines of the server log, to stderr.
show_log_tail() {
	if [[ -s $1/server.log ]]; then
		log "last lines of $1/server.log:"
		tail -n "${2:-20}" "$1/server.log" | sed 's/^/    /' >&2
	fi
}

# apt_install PKG...: install Debian packages when any is missing, without
# starting their services. Needs root (or sudo without a password).
apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	local SUDO=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
		SUDO=(sudo -n)
	fi
	command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
	log "apt-get install ${missing[*]}"
	# Keep package scripts from starting services (sshd on port 22, ...):
	# a policy-rc.d that says 101 is the Debian way; add one only if absent.
	local made_policy=0
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	local rc=0
	if [[ ! -d /var/lib/apt/lists/partial || -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null) || ${APT_UPDATE:-0} == 1 ]]; then
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || rc=$?
	fi
	if ((rc == 0)); then
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || rc=$?
		if ((rc != 0)) && [[ ${APT_UPDATE:-0} != 1 ]]; then
			log "apt-get install failed; retrying after apt-get update"
			"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
				"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 && rc=0
		fi
	fi
	((made_policy)) && "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
	((rc == 0)) || die "apt-get install ${missing[*]} failed"
}

# go_install_cached PKG VERSION: build PKG@VERSION with `go install` once and
# keep it as $(servers_cache_dir)/bin/<name>-<version>; prints that path.
go_install_cached() {
	local pkg=$1 version=$2 name cache bin tmp start built
	name=$(basename "$pkg")
	cache=$(servers_cache_dir)
	bin=$cache/bin/$name-$version
	if [[ -x $bin ]]; then
		log "$name $version already built: $bin"
		printf '%s\n' "$bin"
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "go is not in PATH (need Go to build $pkg@$version)"
	mkdir -p "$cache/bin"
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	log "building $pkg@$version with go install (minutes on a cold Go cache)"
	start=$(date +%s)
	# GOWORK=off and a neutral directory: a surrounding go.work/go.mod must not
	# influence the build. CGO off: a static binary, no C compiler needed.
	if ! (cd "$tmp" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$tmp" \
		go install -trimpath "$pkg@$version" >&2); then
		rm -rf "$tmp"
		die "go install $pkg@$version failed"
	fi
	built=$tmp/$name
	if [[ ! -x $built ]]; then
		rm -rf "$tmp"
		die "go install finished but $built is missing"
	fi
	mv -f "$built" "$bin.tmp.$$" && mv -f "$bin.tmp.$$" "$bin"
	rm -rf "$tmp"
	log "built $bin in $(($(date +%s) - start))s"
	printf '%s\n' "$bin"
}

# need_cmd CMD PKG: make sure CMD exists, installing Debian package PKG if not.
need_cmd() {
	command -v "$1" >/dev/null 2>&1 || apt_install "$2"
	command -v "$1" >/dev/null 2>&1 || die "$1 not found even after installing $2"
}
