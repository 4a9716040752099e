package main

// Test fixtures for interoperability tests against the real restic binary.
//
//	resticBin(t) string                          restic to run (RESTIC_BIN, PATH, or the cache of
//	                                             scripts/testservers/install-restic.sh); skips when
//	                                             missing, fails instead when CI=true
//	runRestic(t, env, args...) (stdout, stderr, exit)   env is appended to the test's environment
//	                                             minus RESTIC_*; RESTIC_CACHE_DIR is a temp dir
//	resticTestEnv(repo, password) []string       RESTIC_REPOSITORY/RESTIC_PASSWORD for env
//	mustRestic(t, env, args...) stdout           runRestic that fails the test on a non-zero exit
//	makeSourceTree(t, dir)                       deterministic tree with every kind of file (generation 0)
//	makeSourceTreeGeneration(t, dir, gen)        the same tree after gen rounds of changes
//	makeResticRepo(t, opts) (repo, password)     cached restic repository (see resticRepoOptions)
//	resticRepoFixture(t, opts) *resticFixture    the same, with snapshot IDs/hosts/tags and the source tree
//	                                             (f.Env() for runRestic; f.Snapshots[i].Generation for
//	                                             makeSourceTreeGeneration)
//	copyDir(t, src) string                       private copy of a directory (e.g. a fixture repo to modify)
//	compareTrees(t, a, b, opts)                  reports every difference between two trees
//	treeDiff(a, b, opts) ([]string, error)       the differences as a list
//
// Fixture repositories are shared by all tests of one test binary run and are
// removed by TestMain: treat them as read-only (copyDir them to change them).

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/fsnode"
	"golang.org/x/sys/unix"
)

// fixtureResticVersion is the restic release arca is a drop-in replacement for.
const fixtureResticVersion = "v0.19.1"

// resticTimeout bounds a single restic run started by the helpers.
const resticTimeout = 15 * time.Minute

var (
	fixtureRootOnce sync.Once
	fixtureRootDir  string
	fixtureRootErr  error
)

// TestMain removes the directory shared by the cached fixtures. (It is the
// package's only TestMain: add further set-up here rather than in a second one.)
func TestMain(m *testing.M) {
	if os.Getenv(runAsArcaEnv) == "1" {
		// re-executed by arcaProcess: behave as the arca binary
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if fixtureRootDir != "" {
		if err := os.RemoveAll(fixtureRootDir); err != nil {
			fmt.Fprintf(os.Stderr, "removing fixture directory: %v\n", err)
		}
	}
	os.Exit(code)
}

// runAsArcaEnv makes the test binary run as arca (see arcaProcess).
const runAsArcaEnv = "ARCA_TEST_RUN_AS_ARCA"

// arcaProcess returns a command that runs arca with args in a separate
// process (the test binary re-executed), for tests that must kill arca.
func arcaProcess(t testing.TB, env []string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(append(os.Environ(), env...), runAsArcaEnv+"=1")
	return cmd
}

// sharedFixtureDir is a temporary directory that lives as long as the test binary.
func sharedFixtureDir(t testing.TB) string {
	t.Helper()
	fixtureRootOnce.Do(func() {
		fixtureRootDir, fixtureRootErr = os.MkdirTemp("", "arca-fixtures-")
	})
	if fixtureRootErr != nil {
		t.Fatalf("creating the shared fixture directory: %v", fixtureRootErr)
	}
	return fixtureRootDir
}

// ---------------------------------------------------------------------------
// running restic

// resticBin returns the restic binary the interop tests run: $RESTIC_BIN, else
// `restic` on PATH, else the binary cached by scripts/testservers/install-restic.sh.
// Without one the test is skipped, or fails when CI=true.
func resticBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RESTIC_BIN"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			t.Fatalf("RESTIC_BIN=%s is not an executable file", p)
		}
		return p
	}
	if p, err := exec.LookPath("restic"); err == nil {
		return p
	}
	var caches []string
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		caches = append(caches, d)
	}
	if d, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(d, ".cache"))
	}
	caches = append(caches, "/root/.cache")
	for _, c := range caches {
		for _, name := range []string{"arca-test-servers", "restic-test-servers"} {
			p := filepath.Join(c, name, "bin", "restic-"+fixtureResticVersion)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	msg := "restic not found: set RESTIC_BIN, put restic on PATH or run scripts/testservers/install-restic.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// resticTestEnv is the environment that points restic (and arca) at a repository.
func resticTestEnv(repo, password string) []string {
	return []string{"RESTIC_REPOSITORY=" + repo, "RESTIC_PASSWORD=" + password}
}

// resticTestCommandEnv is the environment of a restic run: the test's environment
// without any RESTIC_* variable (a developer's own repository or password must
// not leak in), then RESTIC_CACHE_DIR, then extra (later entries win).
func resticTestCommandEnv(cacheDir string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESTIC_") {
			env = append(env, kv)
		}
	}
	env = append(env, "RESTIC_CACHE_DIR="+cacheDir)
	return append(env, extra...)
}

// execRestic runs bin with args in dir. exit is the exit code; err is set only
// when the program could not be run or was killed.
func execRestic(ctx context.Context, bin, dir string, env []string, args ...string) (stdout, stderr []byte, exit int, err error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil // /dev/null
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	errOut := dropVanishedLockWarnings(e.Bytes())
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return o.Bytes(), errOut, ee.ExitCode(), nil
	}
	if err != nil {
		return o.Bytes(), errOut, -1, fmt.Errorf("restic %s: %w (stderr: %s)", strings.Join(args, " "), err, e.Bytes())
	}
	return o.Bytes(), errOut, 0, nil
}

// vanishedLockWarning is what restic prints when a lock file it listed is
// gone when it reads it: another test's arca released its lock meanwhile.
var vanishedLockWarning = regexp.MustCompile(`(?m)^Load\(<lock/[0-9a-f]+>, 0, 0\) failed: .*(: no such file or directory| does not exist)\n`)

// dropVanishedLockWarnings removes those warnings: tests share fixture
// repositories in parallel, so they are noise from another test, not part
// of the output being compared.
func dropVanishedLockWarnings(b []byte) []byte {
	return vanishedLockWarning.ReplaceAll(b, nil)
}

// runRestic runs restic with args (no stdin, RESTIC_CACHE_DIR in a fresh
// temporary directory, env appended to the environment; see resticTestCommandEnv)
// and returns its output and exit code. It fails the test only when restic
// cannot be run at all.
func runRestic(t testing.TB, env []string, args ...string) (stdout, stderr []byte, exit int) {
	t.Helper()
	bin := resticBin(t)
	// not t.Context(): that is canceled before t.Cleanup functions run, which may call restic too
	ctx, cancel := context.WithTimeout(context.Background(), resticTimeout)
	defer cancel()
	stdout, stderr, exit, err := execRestic(ctx, bin, "", resticTestCommandEnv(t.TempDir(), env), args...)
	if err != nil {
		t.Fatal(err)
	}
	return stdout, stderr, exit
}

// mustRestic is runRestic that fails the test when restic exits non-zero.
func mustRestic(t testing.TB, env []string, args ...string) []byte {
	t.Helper()
	stdout, stderr, exit := runRestic(t, env, args...)
	if exit != 0 {
		t.Fatalf("restic %s: exit code %d\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), exit, stderr, stdout)
	}
	return stdout
}

// ---------------------------------------------------------------------------
// source trees

// makeSourceTree fills dir (created if missing) with a deterministic tree that
// has every kind of file restic handles: see buildSourceTree. Features the
// file system or the user cannot have (xattrs, device nodes) are left out and
// logged.
func makeSourceTree(t testing.TB, dir string) {
	t.Helper()
	makeSourceTreeGeneration(t, dir, 0)
}

// makeSourceTreeGeneration makes the tree as it is after gen rounds of
// changes (applyGeneration); generation g is what snapshot g of a
// fixture repository holds.
func makeSourceTreeGeneration(t testing.TB, dir string, gen int) {
	t.Helper()
	b := newSourceTreeBuilder(dir)
	buildSourceTree(b)
	for g := 1; g <= gen; g++ {
		applyGeneration(b, g)
	}
	b.finish()
	if b.err != nil {
		t.Fatalf("making source tree in %s: %v", dir, b.err)
	}
	for _, n := range b.notes {
		t.Logf("source tree: %s", n)
	}
}

// sourceTreeBuilder makes files below root and remembers the first error, the
// generation in which each path was last written, and explicit directory modes.
type sourceTreeBuilder struct {
	root     string
	gen      int
	err      error
	notes    []string
	touched  map[string]int         // rel path -> generation of its last change
	dirModes map[string]os.FileMode // rel path -> mode (others: 0755)
	mtimes   map[string]time.Time   // rel path -> fixed mtime
}

func newSourceTreeBuilder(root string) *sourceTreeBuilder {
	return &sourceTreeBuilder{
		root:     root,
		touched:  map[string]int{},
		dirModes: map[string]os.FileMode{},
		mtimes:   map[string]time.Time{},
	}
}

func (b *sourceTreeBuilder) path(rel string) string {
	return filepath.Join(b.root, filepath.FromSlash(rel))
}

func (b *sourceTreeBuilder) check(what string, err error) bool {
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("%s: %w", what, err)
	}
	return b.err == nil
}

func (b *sourceTreeBuilder) touch(rel string) {
	if b.gen > 0 {
		b.touched[rel] = b.gen
	}
}

func (b *sourceTreeBuilder) mkdir(rel string, mode os.FileMode) {
	if b.err != nil {
		return
	}
	b.check("mkdir "+rel, os.MkdirAll(b.path(rel), 0o755))
	b.dirModes[rel] = mode
}

func (b *sourceTreeBuilder) parent(rel string) bool {
	return b.check("mkdir for "+strconv.Quote(rel), os.MkdirAll(filepath.Dir(b.path(rel)), 0o755))
}

func (b *sourceTreeBuilder) write(rel string, data []byte, mode os.FileMode) {
	if b.err != nil || !b.parent(rel) {
		return
	}
	p := b.path(rel)
	if b.check("write "+strconv.Quote(rel), os.WriteFile(p, data, 0o600)) {
		b.check("chmod "+strconv.Quote(rel), os.Chmod(p, mode))
	}
	b.touch(rel)
}

// writeAt overwrites part of an existing file.
func (b *sourceTreeBuilder) writeAt(rel string, off int64, data []byte) {
	if b.err != nil {
		return
	}
	f, err := os.OpenFile(b.path(rel), os.O_WRONLY, 0)
	if !b.check("open "+rel, err) {
		return
	}
	_, err = f.WriteAt(data, off)
	b.check("write "+rel, errors.Join(err, f.Close()))
	b.touch(rel)
}

// sparse makes a file of size bytes that holds data only at the given offsets.
func (b *sourceTreeBuilder) sparse(rel string, size int64, parts map[int64][]byte, mode os.FileMode) {
	if b.err != nil || !b.parent(rel) {
		return
	}
	f, err := os.OpenFile(b.path(rel), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if !b.check("create "+rel, err) {
		return
	}
	err = f.Truncate(size)
	for _, off := range slices.Sorted(maps.Keys(parts)) {
		if err == nil {
			_, err = f.WriteAt(parts[off], off)
		}
	}
	b.check("sparse "+rel, errors.Join(err, f.Close()))
	b.check("chmod "+rel, os.Chmod(b.path(rel), mode))
	b.touch(rel)
}

func (b *sourceTreeBuilder) symlink(target, rel string) {
	if b.err != nil || !b.parent(rel) {
		return
	}
	b.check("symlink "+strconv.Quote(rel), os.Symlink(target, b.path(rel)))
	b.touch(rel)
}

func (b *sourceTreeBuilder) hardlink(existing, rel string) {
	if b.err != nil || !b.parent(rel) {
		return
	}
	b.check("link "+rel, os.Link(b.path(existing), b.path(rel)))
}

func (b *sourceTreeBuilder) remove(rel string) {
	if b.err != nil {
		return
	}
	b.check("remove "+rel, os.RemoveAll(b.path(rel)))
	delete(b.touched, rel)
}

func (b *sourceTreeBuilder) fifo(rel string) {
	if b.err != nil || !b.parent(rel) {
		return
	}
	if b.check("mkfifo "+rel, unix.Mkfifo(b.path(rel), 0o644)) {
		b.check("chmod "+rel, os.Chmod(b.path(rel), 0o644))
	}
}

// device makes a character device like /dev/null (root only; skipped otherwise).
func (b *sourceTreeBuilder) device(rel string, major, minor uint32) {
	if b.err != nil || !b.parent(rel) {
		return
	}
	if os.Geteuid() != 0 {
		b.notes = append(b.notes, "not root: no device node "+rel)
		return
	}
	err := mknodChar(b.path(rel), 0o666, unix.Mkdev(major, minor))
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		b.notes = append(b.notes, fmt.Sprintf("mknod %s not permitted (%v): no device node", rel, err))
		return
	}
	if b.check("mknod "+rel, err) {
		b.check("chmod "+rel, os.Chmod(b.path(rel), 0o666))
	}
}

// xattr sets an extended attribute; a file system that refuses them is noted, not an error.
func (b *sourceTreeBuilder) xattr(rel, name string, value []byte) {
	if b.err != nil {
		return
	}
	err := unix.Lsetxattr(b.path(rel), name, value, 0)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		b.notes = append(b.notes, fmt.Sprintf("xattr %s on %s refused (%v)", name, rel, err))
		return
	}
	b.check("setxattr "+rel, err)
}

// finish sets the modes of all directories and the mtimes of everything:
// fixed ones from b.mtimes, else fixtureMtime(path, generation of last change);
// directories always get the current generation's time.
func (b *sourceTreeBuilder) finish() {
	if b.err != nil {
		return
	}
	type entry struct {
		rel string
		dir bool
	}
	var entries []entry
	err := filepath.WalkDir(b.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		entries = append(entries, entry{filepath.ToSlash(rel), d.IsDir()})
		return nil
	})
	if !b.check("walk "+b.root, err) {
		return
	}
	for _, e := range entries {
		p := b.path(e.rel)
		var mt time.Time
		switch fixed, ok := b.mtimes[e.rel]; {
		case ok:
			mt = fixed
		case e.dir:
			mt = fixtureMtime(e.rel, b.gen)
		default:
			mt = fixtureMtime(e.rel, b.touched[e.rel])
		}
		if e.dir {
			mode, ok := b.dirModes[e.rel]
			if !ok {
				mode = 0o755
			}
			if !b.check("chmod "+e.rel, os.Chmod(p, mode)) {
				return
			}
		}
		ts, err := unix.TimeToTimespec(mt)
		if !b.check("timespec "+e.rel, err) {
			return
		}
		if !b.check("utimes "+strconv.Quote(e.rel), unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)) {
			return
		}
	}
}

// fixtureMtime is the deterministic mtime of a path changed last in generation gen:
// somewhere in 2020-2022 with nanoseconds, plus gen days.
func fixtureMtime(rel string, gen int) time.Time {
	h := fnv.New64a()
	h.Write([]byte(rel))
	v := h.Sum64()
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(v%(3*365*86400))*time.Second +
		time.Duration((v/7)%1_000_000_000) +
		time.Duration(gen)*24*time.Hour)
}

// fixtureRand is a deterministic random source for one named purpose.
func fixtureRand(name string) *rand.ChaCha8 {
	return rand.NewChaCha8(sha256.Sum256([]byte("arca fixture seed: " + name)))
}

func fixtureRandomBytes(name string, n int) []byte {
	buf := make([]byte, n)
	fixtureRand(name).Read(buf)
	return buf
}

var fixtureWords = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do
eiusmod tempor incididunt ut labore et dolore magna aliqua backup restore snapshot
repository chunk blob pack index tree prune forget check`)

// fixtureText is deterministic text of about n bytes (whole lines).
func fixtureText(name string, n int) []byte {
	r := rand.New(fixtureRand(name))
	var buf bytes.Buffer
	for buf.Len() < n {
		words := 3 + r.IntN(12)
		for i := range words {
			if i > 0 {
				buf.WriteByte(' ')
			}
			buf.WriteString(fixtureWords[r.IntN(len(fixtureWords))])
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// fixtureLogText is highly compressible, log-like text of about n bytes.
func fixtureLogText(name string, n int) []byte {
	r := rand.New(fixtureRand(name))
	var buf bytes.Buffer
	t := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; buf.Len() < n; i++ {
		t = t.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
		fmt.Fprintf(&buf, "%s INFO request id=%08d method=GET path=/api/v1/items/%d status=200 bytes=%d\n",
			t.Format(time.RFC3339Nano), i, r.IntN(1000), r.IntN(100000))
	}
	return buf.Bytes()
}

const (
	fixtureSparseSize = 20 << 20
	fixtureRandomSize = 12 << 20
	fixtureDeepLevels = 40
	fixtureManyFiles  = 500
)

// buildSourceTree creates generation 0 of the fixture tree:
//
//	empty, emptydir/                 empty file, empty directory
//	text/                            small text files (ASCII, UTF-8, CRLF, no final newline)
//	sparse.img                       20 MiB, data in four ranges, holes elsewhere
//	random.bin                       12 MiB of seeded random bytes (more than one max-size chunk)
//	compressible.log                 4 MiB of log lines
//	hardlinks/a, hardlinks/b         one file with two links; hardlinks/big-a + hardlinks/sub/big-b another
//	symlinks/                        relative, absolute, dangling, to a directory, non-UTF-8 target
//	names/                           non-UTF-8, spaces, newline, tab, unicode, quotes, dash, hidden
//	xattr/                           user.* xattrs on a file and a directory
//	special/fifo, special/null       a FIFO; a char device 1,3 (root only)
//	deep/d01/…/d40/leaf.txt          40 levels
//	many/f-000.txt … f-499.txt       500 small files
//	modes/                           0600, 0640, 0644, 0755, 0444 files; 0700 and 0750 directories
//	mtimes/                          fixed mtimes: before 1970, the epoch, nanoseconds, 2038, 2100
func buildSourceTree(b *sourceTreeBuilder) {
	b.mkdir(".", 0o755)
	b.write("empty", nil, 0o644)
	b.mkdir("emptydir", 0o755)

	b.write("text/hello.txt", []byte("hello, world\n"), 0o644)
	b.write("text/lorem.txt", fixtureText("lorem", 10<<10), 0o644)
	b.write("text/utf8.txt", []byte("Grüße, ünïcödé, 日本語, emoji 🙂\n"), 0o644)
	b.write("text/crlf.txt", []byte("line one\r\nline two\r\n"), 0o644)
	b.write("text/no-final-newline.txt", []byte("no newline at the end"), 0o644)

	b.sparse("sparse.img", fixtureSparseSize, map[int64][]byte{
		0:                           fixtureRandomBytes("sparse-0", 4096),
		5<<20 + 123:                 fixtureRandomBytes("sparse-1", 64<<10),
		13 << 20:                    fixtureRandomBytes("sparse-2", 1<<20),
		fixtureSparseSize - 100:     fixtureRandomBytes("sparse-3", 100),
		fixtureSparseSize/2 + 4097:  []byte("a few bytes in the middle"),
		fixtureSparseSize/2 - 70000: fixtureRandomBytes("sparse-4", 10),
	}, 0o644)
	b.write("random.bin", fixtureRandomBytes("random.bin", fixtureRandomSize), 0o644)
	b.write("compressible.log", fixtureLogText("compressible", 4<<20), 0o644)

	b.write("hardlinks/a", fixtureText("hardlink-a", 3000), 0o644)
	b.hardlink("hardlinks/a", "hardlinks/b")
	b.write("hardlinks/big-a", fixtureRandomBytes("hardlink-big", 600<<10), 0o640)
	b.hardlink("hardlinks/big-a", "hardlinks/sub/big-b")

	b.symlink("../text/hello.txt", "symlinks/relative")
	b.symlink("/etc/hostname", "symlinks/absolute")
	b.symlink("does/not/exist", "symlinks/dangling")
	b.symlink("../text", "symlinks/to-dir")
	b.symlink("target-\xff\xfe-not-utf8", "symlinks/non-utf8-target")

	for i, name := range []string{
		"bad\xff\xfename",
		"with space",
		" leading and trailing space ",
		"new\nline",
		"tab\there",
		"ünïcødé-日本語-🙂",
		`quotes-"double"-'single'-and-\backslash`,
		".hidden",
		"-leading-dash",
		"star*question?[brackets]",
		"dir-\xc3\x28-not-utf8/inside.txt",
	} {
		b.write("names/"+name, fmt.Appendf(nil, "name %d: %q\n", i, name), 0o644)
	}

	b.write("xattr/file", []byte("file with extended attributes\n"), 0o644)
	b.xattr("xattr/file", "user.arca.text", []byte("hello"))
	b.xattr("xattr/file", "user.arca.binary", []byte{0, 1, 2, 0xff, 0xfe, '\n'})
	b.xattr("xattr/file", "user.arca.empty", nil)
	b.mkdir("xattr/dir", 0o755)
	b.xattr("xattr/dir", "user.arca.dir", []byte("on a directory"))

	b.fifo("special/fifo")
	b.device("special/null", 1, 3)

	deep := "deep"
	for i := 1; i <= fixtureDeepLevels; i++ {
		deep += fmt.Sprintf("/d%02d", i)
	}
	b.write(deep+"/leaf.txt", []byte("at the bottom\n"), 0o644)

	r := rand.New(fixtureRand("many"))
	for i := range fixtureManyFiles {
		b.write(fmt.Sprintf("many/f-%03d.txt", i), fixtureText(fmt.Sprintf("many-%d", i), r.IntN(2048)), 0o644)
	}

	b.write("modes/0600.txt", []byte("0600\n"), 0o600)
	b.write("modes/0640.txt", []byte("0640\n"), 0o640)
	b.write("modes/0644.txt", []byte("0644\n"), 0o644)
	b.write("modes/0755.sh", []byte("#!/bin/sh\necho 0755\n"), 0o755)
	b.write("modes/0444.txt", []byte("0444\n"), 0o444)
	b.mkdir("modes/0700-dir", 0o700)
	b.write("modes/0700-dir/file", []byte("in a 0700 directory\n"), 0o644)
	b.mkdir("modes/0750-dir", 0o750)

	for name, mt := range map[string]time.Time{
		"mtimes/before-1970": time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC),
		"mtimes/long-ago":    time.Date(1901, 12, 14, 0, 0, 0, 500_000_000, time.UTC),
		"mtimes/epoch":       time.Unix(0, 0).UTC(),
		"mtimes/nanoseconds": time.Date(2023, 5, 6, 7, 8, 9, 123456789, time.UTC),
		"mtimes/y2038":       time.Date(2038, 1, 19, 3, 14, 8, 1, time.UTC),
		"mtimes/y2100":       time.Date(2100, 1, 2, 3, 4, 5, 999999999, time.UTC),
	} {
		b.write(name, []byte(name+"\n"), 0o644)
		b.mtimes[name] = mt
	}
}

// applyGeneration changes the tree in place for generation g >= 1: adds,
// changes and deletes files. Replaying generations 1..g on generation 0 always
// gives the same tree.
func applyGeneration(b *sourceTreeBuilder, g int) {
	b.gen = g
	b.write(fmt.Sprintf("gen/added-%d.txt", g), fixtureText(fmt.Sprintf("added-%d", g), 500+g*100), 0o644)
	b.write("text/hello.txt", fmt.Appendf(nil, "hello, world\ngeneration %d\n", g), 0o644)
	if rel := fmt.Sprintf("many/f-%03d.txt", (g*37)%fixtureManyFiles); fixturePathExists(b.path(rel)) {
		b.write(rel, fixtureText(fmt.Sprintf("many-%d-gen-%d", (g*37)%fixtureManyFiles, g), 1000), 0o644)
	}
	b.remove(fmt.Sprintf("many/f-%03d.txt", (g*53+250)%fixtureManyFiles))
	switch g {
	case 1:
		// a small change in the middle of a large file: most chunks stay the same
		b.writeAt("random.bin", 6<<20, fixtureRandomBytes("random.bin-gen1", 4096))
		b.remove("symlinks/dangling")
		b.symlink("still/does/not/exist", "symlinks/dangling-2")
	case 2:
		b.write("compressible.log", fixtureLogText("compressible-gen2", 1<<20), 0o644)
		b.remove("emptydir")
		b.mkdir("emptydir-2", 0o755)
	case 3:
		b.remove("deep/d01/d02/d03/d04/d05/d06/d07/d08/d09/d10/d11/d12/d13/d14/d15/d16/d17/d18/d19/d20/d21")
		b.write("names/added in gen 3 \xfe", []byte("gen 3\n"), 0o600)
	}
}

func fixturePathExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// copyDir copies the regular files, directories and symlinks below src into a
// new temporary directory and returns it (e.g. a fixture repository a test
// wants to change). Modes are kept; other metadata is not.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm()|0o200)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, in)
			return errors.Join(err, out.Close(), os.Chmod(target, info.Mode().Perm()))
		default:
			return fmt.Errorf("copyDir: %s is neither file, directory nor symlink", p)
		}
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	return dst
}

// ---------------------------------------------------------------------------
// restic repositories

// resticRepoOptions selects a fixture repository. Zero values mean: Version 2,
// Compression "auto" (v2) or "off" (v1), Snapshots 3.
type resticRepoOptions struct {
	Version     int    // repository format version: 1 or 2
	Compression string // "off", "auto" or "max" (version 2 only)
	Snapshots   int    // number of snapshots, >= 1
}

func (o resticRepoOptions) normalized() (resticRepoOptions, error) {
	if o.Version == 0 {
		o.Version = 2
	}
	if o.Compression == "" {
		o.Compression = "auto"
		if o.Version == 1 {
			o.Compression = "off"
		}
	}
	if o.Snapshots == 0 {
		o.Snapshots = 3
	}
	switch {
	case o.Version != 1 && o.Version != 2:
		return o, fmt.Errorf("repository version %d: want 1 or 2", o.Version)
	case o.Compression != "off" && o.Compression != "auto" && o.Compression != "max":
		return o, fmt.Errorf("compression %q: want off, auto or max", o.Compression)
	case o.Version == 1 && o.Compression != "off":
		return o, fmt.Errorf("repository version 1 has no compression (got %q)", o.Compression)
	case o.Snapshots < 1:
		return o, fmt.Errorf("%d snapshots: want at least 1", o.Snapshots)
	}
	return o, nil
}

// String names the option set, e.g. "v2-auto-3snap".
func (o resticRepoOptions) String() string {
	return fmt.Sprintf("v%d-%s-%dsnap", o.Version, o.Compression, o.Snapshots)
}

// resticFixture is a repository made by restic.
type resticFixture struct {
	Options   resticRepoOptions // normalized
	Repo      string            // local repository path
	Password  string
	Source    string // the backed-up tree in its final state (= the latest snapshot); read-only
	Snapshots []resticFixtureSnapshot
}

// resticFixtureSnapshot describes one snapshot, in the order they were made
// (which is also time order).
type resticFixtureSnapshot struct {
	ID         string
	Host       string
	Tags       []string // nil for no tag
	Time       time.Time
	Generation int // makeSourceTreeGeneration(t, dir, Generation) recreates its tree
}

// Env is the environment that points restic and arca at the repository.
func (f *resticFixture) Env() []string { return resticTestEnv(f.Repo, f.Password) }

// fixtureSnapshotSpec is host, tags and time of the i-th snapshot (0-based):
//
//	0: arca-host-a [daily]          2024-01-01 10:00:00
//	1: arca-host-a [daily weekly]   2024-01-02 10:00:00
//	2: arca-host-b [manual]         2024-01-03 10:00:00
//	3: arca-host-a (no tag)         2024-01-04 10:00:00
//	4, 5, …: alternating hosts a/b with [daily]
func fixtureSnapshotSpec(i int) resticFixtureSnapshot {
	s := resticFixtureSnapshot{
		Host:       "arca-host-a",
		Time:       time.Date(2024, 1, 1+i, 10, 0, 0, 0, time.UTC),
		Generation: i,
	}
	switch i {
	case 0:
		s.Tags = []string{"daily"}
	case 1:
		s.Tags = []string{"daily", "weekly"}
	case 2:
		s.Host, s.Tags = "arca-host-b", []string{"manual"}
	case 3:
	default:
		s.Tags = []string{"daily"}
		if i%2 == 0 {
			s.Host = "arca-host-b"
		}
	}
	return s
}

const fixturePassword = "arca fixture password"

type fixtureEntry struct {
	once sync.Once
	f    *resticFixture
	err  error
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[string]*fixtureEntry{}
)

// makeResticRepo returns a restic repository made with the given options:
// restic init, a backup of makeSourceTree's tree, then for each further
// snapshot a round of changes (applyGeneration) and another backup, with the
// hosts, tags and times of fixtureSnapshotSpec. Repositories are made once per
// test binary run and shared: do not modify them (copyDir first).
func makeResticRepo(t testing.TB, opts resticRepoOptions) (repo, password string) {
	t.Helper()
	f := resticRepoFixture(t, opts)
	return f.Repo, f.Password
}

// resticRepoFixture is makeResticRepo with everything known about the repository.
func resticRepoFixture(t testing.TB, opts resticRepoOptions) *resticFixture {
	t.Helper()
	opts, err := opts.normalized()
	if err != nil {
		t.Fatal(err)
	}
	bin := resticBin(t)
	root := sharedFixtureDir(t)
	fixturesMu.Lock()
	e := fixtures[opts.String()]
	if e == nil {
		e = &fixtureEntry{}
		fixtures[opts.String()] = e
	}
	fixturesMu.Unlock()
	e.once.Do(func() {
		start := time.Now()
		e.f, e.err = buildResticFixture(context.Background(), bin, filepath.Join(root, opts.String()), opts)
		if e.err == nil {
			t.Logf("made restic fixture %s in %v", opts, time.Since(start).Round(time.Millisecond))
		}
	})
	if e.err != nil {
		t.Fatalf("restic fixture %s: %v", opts, e.err)
	}
	return e.f
}

func buildResticFixture(ctx context.Context, bin, dir string, opts resticRepoOptions) (*resticFixture, error) {
	ctx, cancel := context.WithTimeout(ctx, resticTimeout)
	defer cancel()
	f := &resticFixture{
		Options:  opts,
		Repo:     filepath.Join(dir, "repo"),
		Password: fixturePassword,
		Source:   filepath.Join(dir, "src"),
	}
	env := resticTestCommandEnv(filepath.Join(dir, "cache"), resticTestEnv(f.Repo, f.Password))
	run := func(args ...string) ([]byte, error) {
		stdout, stderr, exit, err := execRestic(ctx, bin, dir, env, args...)
		if err == nil && exit != 0 {
			err = fmt.Errorf("restic %s: exit code %d: %s", strings.Join(args, " "), exit, stderr)
		}
		return stdout, err
	}
	if err := os.MkdirAll(f.Source, 0o755); err != nil {
		return nil, err
	}
	if _, err := run("init", "--repository-version", strconv.Itoa(opts.Version)); err != nil {
		return nil, err
	}
	if err := cheapenKey(f.Repo, f.Password); err != nil {
		return nil, err
	}
	b := newSourceTreeBuilder(f.Source)
	buildSourceTree(b)
	for i := range opts.Snapshots {
		spec := fixtureSnapshotSpec(i)
		if i > 0 {
			applyGeneration(b, spec.Generation)
		}
		b.finish()
		if b.err != nil {
			return nil, b.err
		}
		args := []string{"backup", "--json", "--host", spec.Host, "--time", spec.Time.Format(time.DateTime)}
		for _, tag := range spec.Tags {
			args = append(args, "--tag", tag)
		}
		if opts.Version >= 2 {
			args = append(args, "--compression", opts.Compression)
		}
		// a relative path: the snapshot holds "src" at its top, restored as <target>/src
		out, err := run(append(args, "src")...)
		if err != nil {
			return nil, err
		}
		if spec.ID, err = backupSnapshotID(out); err != nil {
			return nil, err
		}
		f.Snapshots = append(f.Snapshots, spec)
	}
	return f, nil
}

// backupSnapshotID finds snapshot_id in the summary of `restic backup --json`.
func backupSnapshotID(out []byte) (string, error) {
	for line := range bytes.Lines(out) {
		var msg struct {
			MessageType string `json:"message_type"`
			SnapshotID  string `json:"snapshot_id"`
		}
		if json.Unmarshal(line, &msg) == nil && msg.MessageType == "summary" && msg.SnapshotID != "" {
			return msg.SnapshotID, nil
		}
	}
	return "", fmt.Errorf("no snapshot_id in restic backup --json output:\n%s", out)
}

// ---------------------------------------------------------------------------
// comparing trees

// compareOptions relaxes compareTrees. The zero value compares everything:
// type, mode (incl. setuid/setgid/sticky), size and content, symlink target,
// device number, owner, mtime (to the nanosecond), xattrs, and which paths
// are hard links of each other.
type compareOptions struct {
	IgnoreMtime        bool // no mtimes at all
	IgnoreDirMtime     bool // no directory mtimes
	IgnoreSymlinkMtime bool // no symlink mtimes
	IgnoreRootMeta     bool // not the mode, owner, mtime and xattrs of a and b themselves
	IgnoreOwner        bool // no uid/gid
	IgnoreXattrs       bool
	IgnoreHardlinks    bool
	// Skip, when set, leaves out paths (relative, slash-separated; "." is the
	// root) and, for directories, everything below them.
	Skip func(rel string) bool
}

// compareTrees fails the test (without stopping it) listing every
// difference between the trees below a and b.
func compareTrees(t testing.TB, a, b string, opts compareOptions) {
	t.Helper()
	diffs, err := treeDiff(a, b, opts)
	if err != nil {
		t.Fatalf("comparing %s and %s: %v", a, b, err)
	}
	if len(diffs) > 0 {
		t.Errorf("trees differ in %d places (a=%s, b=%s):\n  %s", len(diffs), a, b, strings.Join(diffs, "\n  "))
	}
}

type fixtureTreeEntry struct {
	mode       fs.FileMode
	size       int64
	mtime      time.Time
	uid, gid   uint32
	rdev       uint64
	dev, ino   uint64
	linkTarget string
	xattrs     map[string]string
	xattrErr   error
}

func fixtureScanTree(root string, opts compareOptions) (map[string]*fixtureTreeEntry, error) {
	entries := map[string]*fixtureTreeEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if opts.Skip != nil && opts.Skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fsnode.StatOf(info)
		e := &fixtureTreeEntry{
			mode:  info.Mode(),
			size:  st.Size,
			mtime: st.Mtime,
			uid:   st.UID,
			gid:   st.GID,
			rdev:  st.Rdev,
			dev:   st.Dev,
			ino:   st.Ino,
		}
		if e.mode&fs.ModeSymlink != 0 {
			if e.linkTarget, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if !opts.IgnoreXattrs {
			e.xattrs, e.xattrErr = fixtureReadXattrs(p)
		}
		entries[rel] = e
		return nil
	})
	return entries, err
}

func fixtureReadXattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, err
		}
		val := make([]byte, n)
		if n > 0 {
			if n, err = unix.Lgetxattr(p, name, val); err != nil {
				return nil, err
			}
		}
		attrs[name] = string(val[:n])
	}
	return attrs, nil
}

func fixtureFileDigest(p string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// fixtureHardlinkPeers maps each regular file with more than one name inside the
// tree to the sorted other names it has there.
func fixtureHardlinkPeers(entries map[string]*fixtureTreeEntry) map[string][]string {
	type key struct{ dev, ino uint64 }
	groups := map[key][]string{}
	for rel, e := range entries {
		if e.mode.IsRegular() {
			k := key{e.dev, e.ino}
			groups[k] = append(groups[k], rel)
		}
	}
	peers := map[string][]string{}
	for _, names := range groups {
		if len(names) < 2 {
			continue
		}
		slices.Sort(names)
		for _, n := range names {
			peers[n] = slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == n })
		}
	}
	return peers
}

// treeDiff lists every difference between the trees below a and b, one
// line per difference, sorted by path. err is set when a tree cannot be read.
func treeDiff(a, b string, opts compareOptions) ([]string, error) {
	ea, err := fixtureScanTree(a, opts)
	if err != nil {
		return nil, err
	}
	eb, err := fixtureScanTree(b, opts)
	if err != nil {
		return nil, err
	}
	var peersA, peersB map[string][]string
	if !opts.IgnoreHardlinks {
		peersA, peersB = fixtureHardlinkPeers(ea), fixtureHardlinkPeers(eb)
	}
	rels := slices.Sorted(maps.Keys(ea))
	for rel := range eb {
		if _, ok := ea[rel]; !ok {
			rels = append(rels, rel)
		}
	}
	slices.SortFunc(rels, cmp.Compare)

	var diffs []string
	for _, rel := range rels {
		q := strconv.Quote(rel)
		add := func(format string, args ...any) { diffs = append(diffs, q+": "+fmt.Sprintf(format, args...)) }
		x, inA := ea[rel]
		y, inB := eb[rel]
		switch {
		case !inB:
			add("only in a (%s)", fixtureTypeName(x.mode))
			continue
		case !inA:
			add("only in b (%s)", fixtureTypeName(y.mode))
			continue
		}
		if x.mode.Type() != y.mode.Type() {
			add("type %v != %v", fixtureTypeName(x.mode), fixtureTypeName(y.mode))
			continue
		}
		root := rel == "."
		meta := !(root && opts.IgnoreRootMeta)
		isLink := x.mode&fs.ModeSymlink != 0
		if meta && !isLink && x.mode != y.mode {
			add("mode %v != %v", x.mode, y.mode)
		}
		if meta && !opts.IgnoreOwner && (x.uid != y.uid || x.gid != y.gid) {
			add("owner %d:%d != %d:%d", x.uid, x.gid, y.uid, y.gid)
		}
		checkMtime := meta && !opts.IgnoreMtime &&
			!(x.mode.IsDir() && opts.IgnoreDirMtime) && !(isLink && opts.IgnoreSymlinkMtime)
		if checkMtime && !x.mtime.Equal(y.mtime) {
			add("mtime %s != %s", x.mtime.UTC().Format(time.RFC3339Nano), y.mtime.UTC().Format(time.RFC3339Nano))
		}
		switch {
		case x.mode.IsRegular():
			if x.size != y.size {
				add("size %d != %d", x.size, y.size)
			} else {
				da, err := fixtureFileDigest(filepath.Join(a, rel))
				if err != nil {
					return nil, err
				}
				db, err := fixtureFileDigest(filepath.Join(b, rel))
				if err != nil {
					return nil, err
				}
				if da != db {
					add("content differs (same size %d)", x.size)
				}
			}
			if !opts.IgnoreHardlinks && !slices.Equal(peersA[rel], peersB[rel]) {
				add("hard links %s != %s", fixtureQuoteAll(peersA[rel]), fixtureQuoteAll(peersB[rel]))
			}
		case isLink:
			if x.linkTarget != y.linkTarget {
				add("symlink target %q != %q", x.linkTarget, y.linkTarget)
			}
		case x.mode&fs.ModeDevice != 0:
			if x.rdev != y.rdev {
				add("device %d:%d != %d:%d", unix.Major(x.rdev), unix.Minor(x.rdev), unix.Major(y.rdev), unix.Minor(y.rdev))
			}
		}
		if meta && !opts.IgnoreXattrs {
			if x.xattrErr != nil || y.xattrErr != nil {
				add("reading xattrs: a: %v, b: %v", x.xattrErr, y.xattrErr)
			} else {
				for _, name := range slices.Sorted(maps.Keys(x.xattrs)) {
					if v, ok := y.xattrs[name]; !ok {
						add("xattr %s only in a", name)
					} else if v != x.xattrs[name] {
						add("xattr %s %q != %q", name, x.xattrs[name], v)
					}
				}
				for _, name := range slices.Sorted(maps.Keys(y.xattrs)) {
					if _, ok := x.xattrs[name]; !ok {
						add("xattr %s only in b", name)
					}
				}
			}
		}
	}
	return diffs, nil
}

func fixtureTypeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeCharDevice != 0:
		return "chardev"
	case m&fs.ModeDevice != 0:
		return "blockdev"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return m.Type().String()
}

func fixtureQuoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// cheapenKey replaces the repository's only key file with one for the same
// master key and password but cheap scrypt parameters, so that every test
// command opens the repository in milliseconds instead of a calibrated
// half second (much more under the race detector). restic and arca both
// accept any valid parameters.
func cheapenKey(repoDir, password string) error {
	keys, err := os.ReadDir(filepath.Join(repoDir, "keys"))
	if err != nil || len(keys) != 1 {
		return fmt.Errorf("cheapen key: want one key file: %v", err)
	}
	old := filepath.Join(repoDir, "keys", keys[0].Name())
	buf, err := os.ReadFile(old)
	if err != nil {
		return err
	}
	kf, err := crypto.ParseKeyFile(buf)
	if err != nil {
		return err
	}
	master, err := kf.Open(password)
	if err != nil {
		return err
	}
	cheap, err := crypto.NewKeyFile(master, password, crypto.Params{N: 1 << 10, R: 8, P: 1}, kf.Username, kf.Hostname, kf.Created)
	if err != nil {
		return err
	}
	out, err := cheap.Marshal()
	if err != nil {
		return err
	}
	name := filepath.Join(repoDir, "keys", fmt.Sprintf("%x", sha256.Sum256(out)))
	if err := os.WriteFile(name, out, 0o400); err != nil {
		return err
	}
	return os.Remove(old)
}
