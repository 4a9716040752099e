#!/usr/bin/env bash
# install-s3.sh: build (once) and cache the S3 server binary used by start-s3.sh.
#
#   S3_SERVER=versitygw (default) | minio
#   S3_SERVER_VERSION   module version to build (defaults pinned below)
#   SERVERS_CACHE_DIR   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/arca-test-servers)
#   S3_SERVER_BIN       use this binary instead of building one (nothing is built)
#
# Prints `export S3_SERVER=...` and `export S3_SERVER_BIN=/path` on stdout.
# Re-runs are free once the binary is in the cache.
set -euo pipefail
SCRIPT_NAME="install-s3.sh"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S3_SERVER=${S3_SERVER:-versitygw}
case $S3_SERVER in
versitygw)
	pkg=github.com/versity/versitygw/cmd/versitygw
	version=${S3_SERVER_VERSION:-v1.8.0}
	;;
minio)
	# MinIO publishes no semver tags; this is the module proxy's @latest
	# pseudo-version when these scripts were written (2026-02-12 commit).
	pkg=github.com/minio/minio
	version=${S3_SERVER_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
	;;
*) die "S3_SERVER must be 'versitygw' or 'minio' (got '$S3_SERVER')" ;;
esac

if [[ -n ${S3_SERVER_BIN:-} ]]; then
	[[ -x $S3_SERVER_BIN ]] || die "S3_SERVER_BIN=$S3_SERVER_BIN is not an executable file"
	log "using S3_SERVER_BIN=$S3_SERVER_BIN (not building)"
	emit S3_SERVER "$S3_SERVER"
	emit S3_SERVER_BIN "$(readlink -f "$S3_SERVER_BIN")"
	exit 0
fi

bin=$(go_install_cached "$pkg" "$version")
emit S3_SERVER "$S3_SERVER"
emit S3_SERVER_BIN "$bin"
