#!/usr/bin/env bash
# scripts/test.sh: run all of arca's tests.
#
#   scripts/test.sh                      # go vet ./... (also for darwin, freebsd) and go test -race ./...
#   scripts/test.sh -run TestX ./cmd/arca/   # arguments replace the default ./...
#
# On a fresh Debian machine with Go, gcc and apt it installs what the tests
# need: the real restic CLI (v0.19.1, built once with `go install` and cached
# under ~/.cache/arca-test-servers; set RESTIC_BIN to use another binary).
#
# Environment:
#   RESTIC_BIN          restic binary to test against (default: built and cached)
#   ARCA_TEST_SERVERS=1 also start the S3, SFTP and REST test servers on
#                       127.0.0.1 (scripts/testservers/) and stop them on exit;
#                       with the default packages, the S3 tests then run a
#                       second time against MinIO (whose listings arca trusts
#                       to be consistent, unlike versitygw's)
#   GO_TEST_TIMEOUT     go test -timeout (default 40m)
#
# Exit status: 0 when vet and all tests pass, non-zero otherwise.
set -euo pipefail
SCRIPT_NAME="test.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=$root/scripts/testservers
# shellcheck source=testservers/lib.sh
. "$S/lib.sh"
cd "$root"
t_start=$(date +%s)

# ---- toolchain ------------------------------------------------------------
# A bare CI environment may lack HOME (Go needs it for its caches).
if [[ -z ${HOME:-} ]]; then
	HOME=$(getent passwd "$(id -un)" | cut -d: -f6 || true)
	export HOME=${HOME:-/root}
fi
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH=/usr/local/go/bin:$PATH
fi
command -v go >/dev/null 2>&1 || die "go is not in PATH"
# -race needs cgo and a C compiler.
export CGO_ENABLED=1
cc=$(go env CC)
command -v "${cc%% *}" >/dev/null 2>&1 || need_cmd gcc gcc
log "$(go version); C compiler: $(command -v "${cc%% *}")"

# ---- test servers: on by default in CI ------------------------------------
# ARCA_TEST_SERVERS=1 (the default when CI=true) starts real S3 (versitygw),
# SFTP (sshd) and REST (rclone serve restic) servers on 127.0.0.1. Tests read
# S3_*, SFTP_*, REST_* from the environment and skip when they are unset (with
# CI=true the backend tests fail instead). The trap stops exactly the started
# instances (by the PID recorded in their state directories).
if [[ -z ${ARCA_TEST_SERVERS:-} && ${CI:-} == true ]]; then
	ARCA_TEST_SERVERS=1
fi
s3_install_pid=
if [[ ${ARCA_TEST_SERVERS:-0} == 1 ]]; then
	# Building versitygw and restic from source takes 1.5-2 min each on a
	# fresh machine; build the S3 server in the background meanwhile.
	s3_install_log=$(mktemp)
	"$S/install-s3.sh" >"$s3_install_log.env" 2>"$s3_install_log" &
	s3_install_pid=$!
fi
# MinIO for the second S3 pass (below) builds meanwhile too: about 5 min of
# CPU. It is waited for before the tests start, which it would slow down.
minio_pid=
if [[ ${ARCA_TEST_SERVERS:-0} == 1 && $# == 0 ]]; then
	minio_log=$(mktemp)
	S3_SERVER=minio S3_SERVER_BIN= "$S/install-s3.sh" >"$minio_log.env" 2>"$minio_log" &
	minio_pid=$!
fi

# ---- restic (the reference implementation for interop tests) --------------
out=$("$S/install-restic.sh") # assigned on its own line: a failure stops here
eval "$out"
export RESTIC_BIN
log "RESTIC_BIN=$RESTIC_BIN"

if [[ ${ARCA_TEST_SERVERS:-0} == 1 ]]; then
	if ! wait "$s3_install_pid"; then
		cat "$s3_install_log" >&2
		die "install-s3.sh failed"
	fi
	# shellcheck disable=SC1090
	. "$s3_install_log.env" # exports S3_SERVER and S3_SERVER_BIN
	rm -f "$s3_install_log" "$s3_install_log.env"
	started=()
	stop_servers() {
		local d
		for d in "${started[@]}"; do
			case $d in
			*/s3-*) "$S/stop-s3.sh" "$d" || true ;;
			*/sftp-*) "$S/stop-sftp.sh" "$d" || true ;;
			*/rest-*) "$S/stop-rest.sh" "$d" || true ;;
			esac
		done
	}
	trap stop_servers EXIT
	# `eval "$(cmd)"` would hide a failing cmd: assign on a line of its own.
	out=$("$S/start-s3.sh") # builds versitygw on first use (~1.5 min)
	eval "$out"
	started+=("$S3_STATE_DIR")
	out=$("$S/start-sftp.sh")
	eval "$out"
	started+=("$SFTP_STATE_DIR")
	out=$("$S/start-rest.sh")
	eval "$out"
	started+=("$REST_STATE_DIR")
	log "test servers up: S3 $S3_ENDPOINT (PID $S3_PID), SFTP 127.0.0.1:$SFTP_PORT (PID $SFTP_PID), REST $REST_URL (PID $REST_PID)"
fi

minio_rc=0
if [[ -n $minio_pid ]] && ! wait "$minio_pid"; then
	cat "$minio_log" >&2
	log "install-s3.sh for MinIO failed"
	minio_rc=1
fi

# ---- vet and test ------------------------------------------------------------
pkgs=(./...)
(($# > 0)) && pkgs=("$@")
vet_rc=0
log "go vet ./..."
go vet ./... || vet_rc=$?
# the other systems arca builds for: type-checked here, not run
for goos in darwin freebsd; do
	log "CGO_ENABLED=0 GOOS=$goos go vet ./..."
	CGO_ENABLED=0 GOOS=$goos go vet ./... || vet_rc=$?
done
# the profiling build (go build -tags arcaprofile ./cmd/arca)
log "go vet -tags arcaprofile ./cmd/arca/"
go vet -tags arcaprofile ./cmd/arca/ || vet_rc=$?
((vet_rc == 0)) || log "go vet FAILED (exit code $vet_rc)"

log "go test -race -timeout ${GO_TEST_TIMEOUT:-40m} ${pkgs[*]}"
t_test=$(date +%s)
test_rc=0
go test -race -timeout "${GO_TEST_TIMEOUT:-40m}" "${pkgs[@]}" </dev/null 2>&1 || test_rc=$?
log "go test finished in $(($(date +%s) - t_test))s with exit code $test_rc"
# the profiling build's own test, with the whole suite
if (($# == 0)); then
	go test -tags arcaprofile -run TestProfilesWrite ./cmd/arca/ </dev/null 2>&1 || test_rc=$?
fi

# ---- S3 again, on MinIO ------------------------------------------------------
# The S3 backend trusts MinIO's listings and no other test server's; its
# tests and the engine's remote ones run against a real MinIO too.
if [[ -n $minio_pid ]]; then
	if ((minio_rc == 0)); then
		minio_bin=$(. "$minio_log.env" && echo "$S3_SERVER_BIN")
		out=$(S3_SERVER=minio S3_SERVER_BIN=$minio_bin INSTANCE=minio "$S/start-s3.sh") || minio_rc=$?
		if ((minio_rc == 0)); then
			eval "$out"
			started+=("$S3_STATE_DIR")
			log "MinIO up: $S3_ENDPOINT (PID $S3_PID); go test -race ./backend/s3/ and the engine's remote tests"
			go test -race -timeout 10m ./backend/s3/ </dev/null 2>&1 || minio_rc=$?
			go test -race -timeout 10m -run 'Remote' ./repo/engine/ </dev/null 2>&1 || minio_rc=$?
		fi
	fi
	rm -f "$minio_log" "$minio_log.env"
	((minio_rc == 0)) || test_rc=1
fi

total=$(($(date +%s) - t_start))
if ((vet_rc == 0 && test_rc == 0)); then
	log "PASS: go vet and go test succeeded (${total}s in all)"
	exit 0
fi
log "FAIL: go vet exit code $vet_rc, go test exit code $test_rc (${total}s in all)"
exit 1
