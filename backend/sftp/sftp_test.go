package sftp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
)

// Tests run against every SFTP server that is available:
//
//   - "subprocess": OpenSSH's sftp-server started directly (what
//     -o sftp.command=/usr/lib/openssh/sftp-server does); needs no
//     variables, only the binary (scripts/testservers/install-sftp.sh).
//   - "sshd", "sshd-url", "sshd-command": the sshd of
//     scripts/testservers/start-sftp.sh (SFTP_SERVER_MODE=sshd), through
//     ssh with -F <config> as restic's -o sftp.args, with user, IP address
//     and port, and as a whole -o sftp.command.
//   - "env-subprocess": start-sftp.sh in SFTP_MODE=subprocess.
//
// Repositories are made in fresh directories under the server's root
// (SFTP_ROOT, on this machine) and removed afterwards.

// target is one way to reach an SFTP server.
type target struct {
	name   string
	root   string                  // local directory the server's paths are in
	config func(dir string) Config // config for the repository at dir
	// variant marks another way to reach a server that is already a
	// target: the conformance suite (one login per subtest) skips it.
	variant bool
}

const defaultSFTPServer = "/usr/lib/openssh/sftp-server"

func sftpServerBin() string {
	if bin := os.Getenv("SFTP_SERVER_BIN"); bin != "" {
		return bin
	}
	return defaultSFTPServer
}

func targets(t *testing.T) []target {
	var ts []target
	if bin := sftpServerBin(); fileExists(bin) {
		ts = append(ts, target{name: "subprocess", config: func(dir string) Config {
			return Config{Host: "subprocess", Path: dir, Command: bin}
		}})
	}
	root := os.Getenv("SFTP_ROOT")
	switch os.Getenv("SFTP_SERVER_MODE") {
	case "sshd":
		args, alias := os.Getenv("SFTP_RESTIC_ARGS"), os.Getenv("SFTP_HOST_ALIAS")
		host, port, user := os.Getenv("SFTP_HOST"), os.Getenv("SFTP_PORT"), os.Getenv("SFTP_USER")
		command := os.Getenv("SFTP_COMMAND")
		if root == "" || args == "" || alias == "" {
			break
		}
		ts = append(ts,
			target{name: "sshd", root: root, config: func(dir string) Config {
				return Config{Host: alias, Path: dir, Args: args}
			}},
			target{name: "sshd-url", root: root, variant: true, config: func(dir string) Config {
				return Config{User: user, Host: host, Port: port, Path: dir, Args: args}
			}},
			target{name: "sshd-command", root: root, variant: true, config: func(dir string) Config {
				return Config{Host: alias, Path: dir, Command: command}
			}})
	case "subprocess":
		if command := os.Getenv("SFTP_COMMAND"); command != "" && root != "" {
			ts = append(ts, target{name: "env-subprocess", root: root, config: func(dir string) Config {
				return Config{Host: "subprocess", Path: dir, Command: command}
			}})
		}
	}
	if len(ts) == 0 {
		t.Skipf("no SFTP server: %s is missing and SFTP_SERVER_MODE is unset (run scripts/testservers/start-sftp.sh)", defaultSFTPServer)
	}
	return ts
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// repoDir returns a fresh, not yet existing repository directory for tg,
// removed when the test ends.
func repoDir(t *testing.T, tg target) string {
	t.Helper()
	if tg.root == "" {
		return filepath.Join(t.TempDir(), "repo")
	}
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	parent := filepath.Join(tg.root, "arca-test-"+hex.EncodeToString(nonce[:]))
	t.Cleanup(func() {
		if err := os.RemoveAll(parent); err != nil {
			t.Errorf("remove test repository: %v", err)
		}
	})
	return filepath.Join(parent, "repo")
}

func openBackend(t *testing.T, cfg Config) *Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	be, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg, err)
	}
	return be
}

// newRepo opens a backend on a fresh directory and creates the repository
// layout there. The test closes it.
func newRepo(t *testing.T, tg target) (*Backend, string) {
	t.Helper()
	dir := repoDir(t, tg)
	be := openBackend(t, tg.config(dir))
	if err := be.Create(context.Background()); err != nil {
		_ = be.Close()
		t.Fatalf("Create: %v", err)
	}
	return be, dir
}

// forEachTarget runs fn on every target but the variants (each ssh login
// costs time).
func forEachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, tg := range targets(t) {
		if !tg.variant {
			t.Run(tg.name, func(t *testing.T) { fn(t, tg) })
		}
	}
}

// forEachTargetAndVariant runs fn on every target.
func forEachTargetAndVariant(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg) })
	}
}

func TestConformance(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			be, _ := newRepo(t, tg)
			return be
		})
	})
}

func TestCreateLayout(t *testing.T) {
	forEachTargetAndVariant(t, func(t *testing.T, tg target) {
		be, dir := newRepo(t, tg)
		defer be.Close()
		if !be.Properties().HasAtomicReplace {
			t.Errorf("OpenSSH has posix-rename@openssh.com, but HasAtomicReplace is false")
		}
		if got := be.Properties().Connections; got != DefaultConnections {
			t.Errorf("Connections = %d, want %d", got, DefaultConnections)
		}
		want := []string{"data", "keys", "locks", "snapshots", "index", "data/00", "data/7f", "data/ff"}
		for _, d := range want {
			fi, err := os.Stat(filepath.Join(dir, d))
			if err != nil {
				t.Errorf("after Create: %v", err)
				continue
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want a directory with 0700", d, fi.Mode())
			}
		}
		entries, err := os.ReadDir(filepath.Join(dir, "data"))
		if err != nil || len(entries) != 256 {
			t.Errorf("data has %d entries (%v), want 256", len(entries), err)
		}
		// Create again is fine while there is no config; with one it fails.
		ctx := context.Background()
		if err := be.Create(ctx); err != nil {
			t.Errorf("second Create without a config: %v", err)
		}
		if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("cfg"))); err != nil {
			t.Fatal(err)
		}
		err = be.Create(ctx)
		if err == nil || !strings.Contains(err.Error(), "config file already exists") {
			t.Errorf("Create with a config = %v, want \"config file already exists\"", err)
		}
	})
}

func TestFileModes(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		be, dir := newRepo(t, tg)
		ctx := context.Background()
		cfg := backend.Handle{Type: backend.ConfigFile}
		if err := be.Save(ctx, cfg, backend.NewByteReader([]byte("cfg"))); err != nil {
			t.Fatal(err)
		}
		data := []byte("a key")
		key := backend.Handle{Type: backend.KeyFile, Name: strings.Repeat("ab", 32)}
		if err := be.Save(ctx, key, backend.NewByteReader(data)); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"config", "keys/" + key.Name} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o400 {
				t.Errorf("%s: mode %v (%v), want read-only 0400", name, fi.Mode(), err)
			}
		}
		if err := be.Close(); err != nil {
			t.Fatal(err)
		}

		// A group-readable config gives new files and directories group access.
		if err := os.Chmod(filepath.Join(dir, "config"), 0o440); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "data", "12")); err != nil {
			t.Fatal(err)
		}
		be = openBackend(t, tg.config(dir))
		defer be.Close()
		if m := be.Modes(); m.Dir != 0o770 || m.File != 0o660 {
			t.Errorf("Modes = %+v, want 0770/0660", m)
		}
		pack := backend.Handle{Type: backend.PackFile, Name: "12" + strings.Repeat("0", 62)}
		if err := be.Save(ctx, pack, backend.NewByteReader(data)); err != nil {
			t.Fatalf("Save into a removed data subdirectory: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "data", "12")); err != nil || fi.Mode().Perm() != 0o770 {
			t.Errorf("recreated data/12: mode %v (%v), want 0770", fi.Mode(), err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "data", "12", pack.Name)); err != nil || fi.Mode().Perm() != 0o440 {
			t.Errorf("pack: mode %v (%v), want 0440", fi.Mode(), err)
		}
	})
}

func TestListSkipsTemporaryFiles(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		be, dir := newRepo(t, tg)
		defer be.Close()
		id := strings.Repeat("cd", 32)
		for _, name := range []string{id, id + "-tmp-0123", id + "-restic-temp-4567"} {
			if err := os.WriteFile(filepath.Join(dir, "snapshots", name), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(dir, "snapshots", "subdir"), 0o700); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := be.List(context.Background(), backend.SnapshotFile, func(fi backend.FileInfo) error {
			got = append(got, fi.Name)
			return nil
		})
		if err != nil || len(got) != 1 || got[0] != id {
			t.Errorf("List = %v, %v; want only %s", got, err, id)
		}
	})
}

func TestStatMissingConfigNamesPath(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		be, dir := newRepo(t, tg)
		defer be.Close()
		_, err := be.Stat(context.Background(), backend.Handle{Type: backend.ConfigFile})
		var pe *fs.PathError
		if !backend.IsNotExist(err) || !errors.As(err, &pe) {
			t.Fatalf("Stat(config) = %v, want a not-exist *fs.PathError", err)
		}
		// cmd/arca prints this the way restic does.
		if want := "Lstat " + dir + "/config: file does not exist"; pe.Error() != want {
			t.Errorf("path error %q, want %q", pe.Error(), want)
		}
	})
}

// TestPermissionDenied uses sftp-server's -P (refuse requests) and -R (read
// only) flags: refusals are permanent errors that keep their cause.
func TestPermissionDenied(t *testing.T) {
	bin := sftpServerBin()
	if !fileExists(bin) {
		t.Skipf("%s is missing", bin)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	be := openBackend(t, Config{Host: "x", Path: dir, Command: bin})
	if err := be.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := backend.Handle{Type: backend.LockFile, Name: strings.Repeat("ef", 32)}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("lock"))); err != nil {
		t.Fatal(err)
	}
	_ = be.Close()

	be = openBackend(t, Config{Host: "x", Path: dir, Command: bin + " -P remove"})
	defer be.Close()
	err := be.Remove(ctx, h)
	if err == nil || !backend.IsPermanent(err) || !errors.Is(err, fs.ErrPermission) || backend.IsNotExist(err) {
		t.Errorf("Remove refused by the server = %v, want a permanent permission error", err)
	}

	ro := openBackend(t, Config{Host: "x", Path: dir, Command: bin + " -R"})
	defer ro.Close()
	err = ro.Save(ctx, backend.Handle{Type: backend.LockFile, Name: strings.Repeat("01", 32)}, backend.NewByteReader([]byte("x")))
	if err == nil || !backend.IsPermanent(err) || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Save to a read-only server = %v, want a permanent permission error", err)
	}
	if got, err := backend.LoadAll(ctx, ro, h); err != nil || string(got) != "lock" {
		t.Errorf("Load from a read-only server = %q, %v", got, err)
	}
}

// killSubprocess kills the backend's subprocess as if the connection dropped.
func killSubprocess(t *testing.T, be *Backend) {
	t.Helper()
	if err := be.proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
}

// within fails the test when fn does not return in time.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func checkLost(t *testing.T, what string, err error, be *Backend) {
	t.Helper()
	if err == nil {
		t.Errorf("%s after the subprocess died: no error", what)
		return
	}
	if !backend.IsPermanent(err) || backend.IsNotExist(err) {
		t.Errorf("%s: %v: want a permanent error that is not 'not exist'", what, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "connection to "+be.Location()+" lost") {
		t.Errorf("%s: %q does not say that the connection to %s was lost", what, msg, be.Location())
	}
}

func TestSubprocessDies(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		be, _ := newRepo(t, tg)
		ctx := context.Background()
		data := bytes.Repeat([]byte("arca"), 1<<20)
		pack := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("aa", 32)}
		if err := be.Save(ctx, pack, backend.NewByteReader(data)); err != nil {
			t.Fatal(err)
		}

		// Die in the middle of a Load: the reader fails, nothing hangs.
		within(t, 20*time.Second, "Load interrupted by the subprocess's death", func() {
			err := be.Load(ctx, pack, 0, 0, func(rd io.Reader) error {
				buf := make([]byte, 4096)
				if _, err := io.ReadFull(rd, buf); err != nil {
					return err
				}
				killSubprocess(t, be)
				_, err := io.Copy(io.Discard, rd)
				return err
			})
			checkLost(t, "Load", err, be)
		})
		within(t, 20*time.Second, "calls after the subprocess died", func() {
			_, err := be.Stat(ctx, pack)
			checkLost(t, "Stat", err, be)
			t.Logf("Stat after the subprocess died: %v", err)
			err = be.Save(ctx, backend.Handle{Type: backend.LockFile, Name: pack.Name}, backend.NewByteReader([]byte("x")))
			checkLost(t, "Save", err, be)
			err = be.List(ctx, backend.PackFile, func(backend.FileInfo) error { return nil })
			checkLost(t, "List", err, be)
			err = be.Remove(ctx, pack)
			checkLost(t, "Remove", err, be)
			_ = be.Close()
		})
	})
}

// TestDiesDuringConcurrentCalls kills the subprocess while several
// goroutines upload: every call returns.
func TestDiesDuringConcurrentCalls(t *testing.T) {
	tg := targets(t)[0]
	be, _ := newRepo(t, tg)
	defer be.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	const workers = 8
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			data := bytes.Repeat([]byte{byte(i)}, 1<<20)
			h := backend.Handle{Type: backend.PackFile, Name: hex.EncodeToString([]byte{byte(i)}) + strings.Repeat("0", 62)}
			for j := 0; j < 1000; j++ {
				if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(i)
	}
	time.Sleep(100 * time.Millisecond)
	killSubprocess(t, be)
	within(t, 30*time.Second, "concurrent saves", wg.Wait)
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			checkLost(t, "Save", err, be)
		}
	}
	if failed == 0 {
		t.Errorf("every save succeeded although the subprocess was killed")
	}
}

func TestStartFailure(t *testing.T) {
	ctx := context.Background()
	script := `echo "no route to nowhere" >&2; exit 3`

	// Without a stderr callback, the error tells what the process said.
	_, err := Open(ctx, Config{Host: "h", Path: "/r", Command: "sh -c '" + script + "'"})
	if err == nil {
		t.Fatal("Open with a failing command succeeded")
	}
	for _, want := range []string{"unable to start the sftp session", "exit status 3", "no route to nowhere"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not contain %q", err, want)
		}
	}

	// With a callback, the lines go there as they come.
	var mu sync.Mutex
	var lines []string
	_, err = Open(ctx, Config{Host: "h", Path: "/r", Command: "sh -c '" + script + "'", StderrLine: func(l string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, l)
	}})
	if err == nil || strings.Contains(err.Error(), "no route to nowhere") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Open error with a stderr callback: %v", err)
	}
	mu.Lock()
	if len(lines) != 1 || lines[0] != "no route to nowhere" {
		t.Errorf("stderr lines = %q", lines)
	}
	mu.Unlock()

	_, err = Open(ctx, Config{Host: "h", Path: "/r", Command: "/nonexistent/ssh-replacement"})
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open with a missing program = %v", err)
	}
	_, err = Open(ctx, Config{Host: "h", Path: "/r", Command: "ssh x", Args: "-v"})
	if err == nil || !strings.Contains(err.Error(), "cannot specify both sftp.command and sftp.args options") {
		t.Errorf("Open with command and args = %v", err)
	}
}

// TestOpenCancel: a command that never answers does not block Open beyond
// its context.
func TestOpenCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	within(t, 10*time.Second, "Open of a silent command", func() {
		_, err := Open(ctx, Config{Host: "h", Path: "/r", Command: "sleep 60"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Open = %v, want the context's error", err)
		}
	})
}

// TestCloseKillsStuckProcess: Close returns even when the subprocess
// ignores the end of its input.
func TestCloseKillsStuckProcess(t *testing.T) {
	bin := sftpServerBin()
	if !fileExists(bin) {
		t.Skipf("%s is missing", bin)
	}
	// The shell keeps running after sftp-server ends.
	be := openBackend(t, Config{Host: "h", Path: t.TempDir(), Command: "sh -c '" + bin + "; trap \"\" TERM; sleep 60'"})
	start := time.Now()
	within(t, 10*time.Second, "Close", func() {
		if err := be.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if d := time.Since(start); d < closeTimeout {
		t.Errorf("Close returned after %v, before the grace period %v", d, closeTimeout)
	}
	if !be.proc.hasExited() {
		t.Errorf("process still running after Close")
	}
}

// TestRelativePath: a relative path is relative to the server's login
// directory (for sftp-server started directly: the working directory).
func TestRelativePath(t *testing.T) {
	bin := sftpServerBin()
	if !fileExists(bin) {
		t.Skipf("%s is missing", bin)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	be := openBackend(t, Config{Host: "h", Path: "sub/repo", Command: bin})
	defer be.Close()
	if err := be.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !fileExists(filepath.Join(dir, "sub", "repo", "data", "ab")) {
		t.Errorf("relative repository not created under the working directory")
	}
}

// ttyChildEnv makes the test binary run the child side of
// TestPromptOnTerminal.
const ttyChildEnv = "ARCA_SFTP_TTY_CHILD_DIR"

// TestPromptOnTerminal: when arca runs on a terminal, the subprocess can
// prompt on it (as ssh asks for a password) while the session starts, and
// arca gets the terminal back afterwards. The test binary is run again on
// a pseudo terminal by script(1); the "ssh" there reads a password from
// /dev/tty, which would stop it (SIGTTIN) if it were not in the foreground.
func TestPromptOnTerminal(t *testing.T) {
	bin := sftpServerBin()
	if dir := os.Getenv(ttyChildEnv); dir != "" {
		fakeSSH := `sh -c 'printf "Password: " >/dev/tty; read -r pw </dev/tty; echo "got password $pw" >&2; exec ` + bin + `'`
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		be, err := Open(ctx, Config{Host: "h", Path: dir, Command: fakeSSH, StderrLine: func(l string) { fmt.Println("stderr:", l) }})
		if err != nil {
			fmt.Println("open failed:", err)
			os.Exit(1)
		}
		if err := be.Create(ctx); err != nil {
			fmt.Println("create failed:", err)
			os.Exit(1)
		}
		_ = be.Close()
		// arca is in the terminal's foreground again: reading it works.
		fmt.Println("session done")
		os.Exit(0)
	}
	script, err := exec.LookPath("script")
	if err != nil || !fileExists(bin) {
		t.Skip("needs script(1) and sftp-server")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", self+" -test.run=^TestPromptOnTerminal$", "/dev/null")
	cmd.Env = append(os.Environ(), ttyChildEnv+"="+dir)
	// typed on the terminal after a moment, when the prompt is up
	typed, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		_, _ = typed.Write([]byte("s3cret\n"))
	}()
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "stderr: got password s3cret") || !strings.Contains(text, "session done") {
		t.Fatalf("on a terminal: %v\n%s", err, text)
	}
	if !fileExists(filepath.Join(dir, "data", "00")) {
		t.Errorf("repository not created")
	}
}
