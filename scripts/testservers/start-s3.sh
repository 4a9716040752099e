#!/usr/bin/env bash
# start-s3.sh: start a real S3 server on 127.0.0.1, create a bucket, wait until
# it answers signed requests, and print its settings as `export` lines:
#
#   eval "$(./start-s3.sh)"      # then: restic -r "$S3_REPOSITORY" init
#
# Settings (all optional):
#   S3_SERVER      versitygw (default, posix backend) | minio
#   S3_LISTEN_PORT        fixed port; unset/0 = random free port
#   S3_BUCKET      bucket to create (default arca-test)
#   S3_PREFIX      path inside the bucket for S3_REPOSITORY (default repo)
#   S3_REGION      region (default us-east-1)
#   S3_ACCESS_KEY, S3_SECRET_KEY   credentials (default: random per start)
#   INSTANCE       name to run several servers side by side (default "default")
#   SERVERS_STATE_DIR  where state lives (default ${TMPDIR:-/tmp}/arca-test-servers)
#   START_TIMEOUT  seconds to wait for readiness (default 60)
#   S3_DEBUG=1     let the server log every request to its server.log
#   S3_TLS=1       serve HTTPS with a generated CA (printed as S3_CA_CERT); over
#                  TLS aws-sdk-go-v2 sends aws-chunked bodies with trailing
#                  checksums, which plain HTTP never exercises
#
# When the instance is already running its settings are printed again.
# Stop with stop-s3.sh (same INSTANCE / SERVERS_STATE_DIR).
set -euo pipefail
SCRIPT_NAME="start-s3.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

S3_SERVER=${S3_SERVER:-versitygw}
dir=$(state_dir s3)
lock_instance "$dir"

if pid=$(running_pid "$dir"); then
	have=$(cat "$dir/kind" 2>/dev/null || echo unknown)
	[[ $have == "$S3_SERVER" ]] || die "instance '${INSTANCE:-default}' already runs $have (PID $pid); stop it first: INSTANCE=${INSTANCE:-default} $here/stop-s3.sh"
	log "already running ($have, PID $pid); printing its settings"
	cat "$dir/env"
	exit 0
fi
if [[ -e $dir ]]; then
	log "removing stale state in $dir"
	remove_state "$dir"
fi

need_cmd curl curl
tls=${S3_TLS:-0}
case $tls in 0 | 1) ;; *) die "S3_TLS must be 0 or 1 (got '$tls')" ;; esac
((tls)) && need_cmd openssl openssl
if [[ -z ${S3_SERVER_BIN:-} ]]; then
	inst_out=$("$here/install-s3.sh") || die "install-s3.sh failed"
	eval "$inst_out"
fi
[[ -x $S3_SERVER_BIN ]] || die "S3 server binary $S3_SERVER_BIN is missing"
[[ $(basename "$S3_SERVER_BIN") == *"$S3_SERVER"* ]] ||
	die "S3_SERVER_BIN=$S3_SERVER_BIN does not look like a $S3_SERVER binary (S3_SERVER=$S3_SERVER); unset one of them"

bucket=${S3_BUCKET:-arca-test}
prefix=${S3_PREFIX:-repo}
prefix=${prefix#/}
prefix=${prefix%/}
region=${S3_REGION:-us-east-1}
access=${S3_ACCESS_KEY:-AKTEST$(random_hex 7 | tr a-f A-F)}
secret=${S3_SECRET_KEY:-$(random_hex 20)}
[[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "S3_BUCKET '$bucket' is not a valid bucket name (3-63 chars: a-z 0-9 . -)"
((${#secret} >= 8)) || die "S3_SECRET_KEY must be at least 8 characters"

mkdir -p "$dir/data"
chmod 700 "$dir"
printf '%s\n' "$S3_SERVER" >"$dir/kind"
timeout_s=${START_TIMEOUT:-60}
scheme=http
curl_tls=()
if ((tls)); then
	scheme=https
	t=$dir/tls
	mkdir -p "$t"
	(
		cd "$t"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
			-days 3650 -subj "/CN=arca-test-servers CA" -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
			-subj "/CN=127.0.0.1"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >ext.cnf
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 3650 -extfile ext.cnf
	) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; die "generating TLS certificates failed"; }
	curl_tls=(--cacert "$t/ca.crt")
fi
empty_sha=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# s3_curl METHOD PATH: signed request; prints the HTTP status code.
s3_curl() {
	curl -sS -o "$dir/last-response" -w '%{http_code}' --max-time 10 \
		--aws-sigv4 "aws:amz:$region:s3" --user "$access:$secret" \
		"${curl_tls[@]}" -H "x-amz-content-sha256: $empty_sha" -X "$1" "$scheme://127.0.0.1:$port$2" 2>>"$dir/curl.log" || echo 000
}
health_ok() {
	local path=/health
	[[ $S3_SERVER == minio ]] && path=/minio/health/ready
	[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${curl_tls[@]}" "$scheme://127.0.0.1:$port$path") == 200 ]]
}
signed_ok() { [[ $(s3_curl GET /) == 200 ]]; }

sidecar=0
attempt=0
while :; do
	attempt=$((attempt + 1))
	if [[ -n ${S3_LISTEN_PORT:-} && ${S3_LISTEN_PORT} != 0 ]]; then
		port=$S3_LISTEN_PORT
		port_in_use "$port" && die "port $port on 127.0.0.1 is already in use (unset S3_LISTEN_PORT for a random one)"
	else
		port=$(pick_port)
	fi
	t0=$(date +%s%N)
	case $S3_SERVER in
	versitygw)
		args=(--port "127.0.0.1:$port" --access "$access" --secret "$secret" --region "$region" --health /health)
		[[ ${S3_DEBUG:-0} == 1 ]] || args+=(--quiet)
		((tls)) && args+=(--cert "$t/server.crt" --key "$t/server.key")
		args+=(posix)
		((sidecar)) && { mkdir -p "$dir/meta"; args+=(--sidecar "$dir/meta"); }
		args+=("$dir/data")
		start_bg "$dir" "$S3_SERVER_BIN" "${args[@]}"
		;;
	minio)
		mkdir -p "$dir/certs"
		((tls)) && cp "$t/server.crt" "$dir/certs/public.crt" && cp "$t/server.key" "$dir/certs/private.key"
		export MINIO_ROOT_USER=$access MINIO_ROOT_PASSWORD=$secret MINIO_BROWSER=off \
			MINIO_UPDATE=off MINIO_SITE_REGION=$region MINIO_CI_CD=1
		args=(server --address "127.0.0.1:$port" --certs-dir "$dir/certs")
		[[ ${S3_DEBUG:-0} == 1 ]] || args+=(--quiet)
		args+=("$dir/data")
		start_bg "$dir" "$S3_SERVER_BIN" "${args[@]}"
		unset MINIO_ROOT_USER MINIO_ROOT_PASSWORD
		;;
	*) die "S3_SERVER must be 'versitygw' or 'minio' (got '$S3_SERVER')" ;;
	esac
	rc=0
	wait_ready "$dir" "$timeout_s" health_ok || rc=$?
	if ((rc == 0)); then break; fi
	if ((rc == 2)); then
		if [[ $S3_SERVER == versitygw ]] && ((!sidecar)) && grep -q 'xattr check failed' "$dir/server.log"; then
			log "filesystem of $dir/data has no user xattrs; retrying with --sidecar metadata"
			sidecar=1
			continue
		fi
		if grep -qi 'address already in use' "$dir/server.log" && [[ -z ${S3_LISTEN_PORT:-} || ${S3_LISTEN_PORT} == 0 ]] && ((attempt < 5)); then
			log "port $port was taken meanwhile; retrying on another port"
			continue
		fi
		show_log_tail "$dir"
		die "$S3_SERVER exited during start-up (log: $dir/server.log)"
	fi
	show_log_tail "$dir"
	stop_pid "$dir" "$S3_SERVER" || true
	die "$S3_SERVER did not become ready on 127.0.0.1:$port within ${timeout_s}s"
done

# signed requests work (credentials, clock, region)?
for _ in $(seq 1 50); do signed_ok && break; sleep 0.1; done
if ! signed_ok; then
	cat "$dir/last-response" >&2 2>/dev/null || true
	stop_pid "$dir" "$S3_SERVER" || true
	die "$S3_SERVER is up but rejects signed ListBuckets requests"
fi
code=$(s3_curl PUT "/$bucket")
case $code in
200 | 409) ;;
*)
	cat "$dir/last-response" >&2 2>/dev/null || true
	stop_pid "$dir" "$S3_SERVER" || true
	die "creating bucket '$bucket' failed: HTTP $code"
	;;
esac
t1=$(date +%s%N)
log "$S3_SERVER ready on 127.0.0.1:$port in $(((t1 - t0) / 1000000)) ms (PID $(<"$dir/pid"), bucket $bucket)"

endpoint=$scheme://127.0.0.1:$port
: >"$dir/env"
_SERVERS_ENV_FILE=$dir/env
emit S3_SERVER "$S3_SERVER"
emit S3_ENDPOINT "$endpoint"
emit S3_HOST 127.0.0.1
emit S3_PORT "$port"
emit S3_BUCKET "$bucket"
emit S3_PREFIX "$prefix"
emit S3_REPOSITORY "s3:$endpoint/$bucket${prefix:+/$prefix}"
emit AWS_ACCESS_KEY_ID "$access"
emit AWS_SECRET_ACCESS_KEY "$secret"
emit AWS_DEFAULT_REGION "$region"
emit AWS_REGION "$region"
emit AWS_ENDPOINT_URL_S3 "$endpoint"
((tls)) && emit S3_CA_CERT "$t/ca.crt"
emit S3_PID "$(<"$dir/pid")"
emit S3_STATE_DIR "$dir"
emit S3_DATA_DIR "$dir/data"
emit S3_LOG "$dir/server.log"
