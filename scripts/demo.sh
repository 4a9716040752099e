#!/usr/bin/env bash
# scripts/demo.sh: build arca, back up a small tree into a new local
# repository, check it, restore it and compare the restored tree with the
# source, all with arca. Everything happens in a temporary directory that is
# removed at the end (KEEP=1 keeps it). Exit status 0 means the restore
# matched.
set -euo pipefail
SCRIPT_NAME="demo.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=testservers/lib.sh
. "$root/scripts/testservers/lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/arca-demo.XXXXXX")
cleanup() { if [[ ${KEEP:-0} == 1 ]]; then log "kept $work"; else rm -rf -- "$work"; fi; }
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*" >&2; }

step "building arca"
# a static binary, as restic's releases are built
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$work/bin/arca" ./cmd/arca)
arca=$work/bin/arca

step "making a small source tree in $work/src"
mkdir -p "$work/src/docs/deep/er" "$work/src/empty-dir"
printf 'hello from arca\n' >"$work/src/hello.txt"
: >"$work/src/empty.txt"
seq 1 20000 >"$work/src/docs/numbers.txt"
head -c 3000000 /dev/urandom >"$work/src/docs/random.bin"
printf 'deep\n' >"$work/src/docs/deep/er/file.txt"
printf 'spaced\n' >"$work/src/docs/name with spaces.txt"
ln -s ../hello.txt "$work/src/docs/link-to-hello"
chmod 0600 "$work/src/docs/numbers.txt"
touch -d '2001-02-03 04:05:06' "$work/src/hello.txt"

export RESTIC_REPOSITORY=$work/repo
export RESTIC_PASSWORD=arca-demo-password
export RESTIC_CACHE_DIR=$work/cache

step "arca init"
"$arca" init
step "arca backup src"
# a relative path, so the snapshot holds "src" at its top (restored as target/src)
(cd "$work" && "$arca" backup src)

step "arca snapshots"
"$arca" snapshots
step "arca ls latest"
"$arca" ls latest
step "arca check --read-data"
"$arca" check --read-data
step "arca restore latest --target $work/restore"
"$arca" restore latest --target "$work/restore"

step "comparing source and restored tree"
diff -r --no-dereference "$work/src" "$work/restore/src" || die "the restored tree differs from the source"
meta() { (cd "$1" && find . -mindepth 1 ! -type d -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort); }
diff <(meta "$work/src") <(meta "$work/restore/src") || die "file modes, sizes or mtimes differ"
printf '\ndemo OK: the restored tree is identical to the source (%s files)\n' \
	"$(find "$work/src" -type f | wc -l)"
