#!/usr/bin/env bash
# install-restic.sh: build the real restic CLI once with `go install` from the
# Go module proxy and cache it (no restic release download is needed).
#   RESTIC_VERSION     default v0.19.1
#   SERVERS_CACHE_DIR  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/arca-test-servers)
#   RESTIC_BIN         use this binary instead of building one
# Prints `export RESTIC_BIN=/path` on stdout.
# (Debian's own package is restic 0.14.0: `apt-get install restic`.)
set -euo pipefail
SCRIPT_NAME="install-restic.sh"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -n ${RESTIC_BIN:-} ]]; then
	[[ -x $RESTIC_BIN ]] || die "RESTIC_BIN=$RESTIC_BIN is not an executable file"
	log "using RESTIC_BIN=$RESTIC_BIN (not building)"
	emit RESTIC_BIN "$(readlink -f "$RESTIC_BIN")"
	exit 0
fi
bin=$(go_install_cached github.com/restic/restic/cmd/restic "${RESTIC_VERSION:-v0.19.1}")
"$bin" version >&2
emit RESTIC_BIN "$bin"
