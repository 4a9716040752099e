package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SFTP interop: arca and restic use the same repository over SFTP, reached
// the two ways restic supports:
//
//   - "subprocess": -o sftp.command=/usr/lib/openssh/sftp-server (no server;
//     runs whenever the binary exists, see scripts/testservers/install-sftp.sh);
//   - "sshd": ssh to the sshd of scripts/testservers/start-sftp.sh, with
//     -o sftp.args="-F <its ssh_config>" (needs SFTP_SERVER_MODE=sshd and
//     the variables it prints).
//
// Repositories are made in fresh directories on this machine, so tests
// can look at the files behind the server's back.

type sftpTarget struct {
	name string
	root string // local directory the repositories go to
	// repo returns the repository location for the directory dir.
	repo func(dir string) string
	// opts are the -o options arca and restic both get.
	opts []string
}

func sftpTargets(t *testing.T) []sftpTarget {
	t.Helper()
	var ts []sftpTarget
	bin := os.Getenv("SFTP_SERVER_BIN")
	if bin == "" {
		bin = "/usr/lib/openssh/sftp-server"
	}
	if _, err := os.Stat(bin); err == nil {
		ts = append(ts, sftpTarget{
			name: "subprocess",
			root: t.TempDir(),
			repo: func(dir string) string { return "sftp:subprocess:" + dir },
			opts: []string{"-o", "sftp.command=" + bin},
		})
	}
	if os.Getenv("SFTP_SERVER_MODE") == "sshd" {
		root, alias, args := os.Getenv("SFTP_ROOT"), os.Getenv("SFTP_HOST_ALIAS"), os.Getenv("SFTP_RESTIC_ARGS")
		if root != "" && alias != "" && args != "" {
			ts = append(ts, sftpTarget{
				name: "sshd",
				root: root,
				repo: func(dir string) string { return "sftp:" + alias + ":" + dir },
				opts: []string{"-o", "sftp.args=" + args},
			})
		}
	}
	if len(ts) == 0 {
		t.Skip("no SFTP server: /usr/lib/openssh/sftp-server is missing and SFTP_SERVER_MODE is unset (scripts/testservers/start-sftp.sh)")
	}
	return ts
}

// newDir returns a fresh repository directory below the target's root,
// removed when the test ends.
func (tg sftpTarget) newDir(t *testing.T) string {
	t.Helper()
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	parent := filepath.Join(tg.root, "arca-cli-"+hex.EncodeToString(nonce[:]))
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	return filepath.Join(parent, "repo")
}

// args returns the global options for the repository at dir, then rest.
func (tg sftpTarget) args(dir, pwFile string, rest ...string) []string {
	a := append([]string{"-r", tg.repo(dir), "-p", pwFile}, tg.opts...)
	return append(a, rest...)
}

func mustArca(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, exit := arcaCmd(t, args...)
	if exit != 0 {
		t.Fatalf("arca %s: exit %d\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), exit, errOut, out)
	}
	return out
}

type sftpSnapshot struct {
	ID    string   `json:"id"`
	Paths []string `json:"paths"`
	Tree  string   `json:"tree"`
}

func parseSnapshots(t *testing.T, who string, out []byte) []sftpSnapshot {
	t.Helper()
	var sn []sftpSnapshot
	if err := json.Unmarshal(out, &sn); err != nil {
		t.Fatalf("%s snapshots --json: %v\n%s", who, err, out)
	}
	return sn
}

// TestSFTPArcaRepository: arca creates a repository over SFTP, backs up,
// lists and restores; restic checks every byte of it and restores the same
// tree.
func TestSFTPArcaRepository(t *testing.T) {
	resticBin(t)
	for _, tg := range sftpTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.newDir(t)
			pw := passwordFile(t, "sftp interop")
			src := filepath.Join(t.TempDir(), "src")
			smallTree(t, src)

			out := mustArca(t, tg.args(dir, pw, "init")...)
			if m := initText.FindStringSubmatch(out); m == nil || m[2] != tg.repo(dir) {
				t.Errorf("arca init printed %q, want restic's text naming %s", out, tg.repo(dir))
			}
			for _, d := range []string{"keys", "locks", "snapshots", "index", "data/00", "data/ff"} {
				if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
					t.Errorf("arca init over SFTP did not make %s: %v", d, err)
				}
			}
			mustArca(t, tg.args(dir, pw, "backup", "-q", src)...)

			arcaSn := parseSnapshots(t, "arca", []byte(mustArca(t, tg.args(dir, pw, "snapshots", "--json")...)))
			resticSn := parseSnapshots(t, "restic", mustRestic(t, nil, tg.args(dir, pw, "snapshots", "--json")...))
			if len(arcaSn) != 1 || len(resticSn) != 1 || arcaSn[0].ID != resticSn[0].ID || arcaSn[0].Tree != resticSn[0].Tree {
				t.Fatalf("snapshots: arca %+v, restic %+v; want the same single snapshot", arcaSn, resticSn)
			}
			if p := arcaSn[0].Paths; len(p) != 1 || p[0] != src {
				t.Errorf("snapshot paths %v, want [%s]", p, src)
			}
			text := mustArca(t, tg.args(dir, pw, "snapshots")...)
			if !strings.Contains(text, arcaSn[0].ID[:8]) || !strings.Contains(text, "1 snapshots") {
				t.Errorf("arca snapshots text does not list %s:\n%s", arcaSn[0].ID[:8], text)
			}

			mustRestic(t, nil, tg.args(dir, pw, "check", "--read-data")...)

			arcaDst := t.TempDir()
			mustArca(t, tg.args(dir, pw, "restore", "latest", "--target", arcaDst)...)
			compareTrees(t, src, filepath.Join(arcaDst, src), compareOptions{})
			resticDst := t.TempDir()
			mustRestic(t, nil, tg.args(dir, pw, "restore", "latest", "--target", resticDst)...)
			compareTrees(t, src, filepath.Join(resticDst, src), compareOptions{})

			// Files are stored read-only, directories private, as restic does.
			packs, _ := filepath.Glob(filepath.Join(dir, "data", "*", "*"))
			if len(packs) == 0 {
				t.Fatal("no pack files in the repository")
			}
			for _, p := range append(packs, filepath.Join(dir, "config")) {
				if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o400 {
					t.Errorf("%s: mode %v (%v), want 0400", p, fi.Mode(), err)
				}
			}
			if n := listDir(t, filepath.Join(dir, "locks")); len(n) != 0 {
				t.Errorf("locks left behind: %v", n)
			}
		})
	}
}

// TestSFTPResticRepository: arca lists and restores what restic wrote
// over SFTP, and adds a snapshot restic accepts.
func TestSFTPResticRepository(t *testing.T) {
	resticBin(t)
	for _, tg := range sftpTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.newDir(t)
			pw := passwordFile(t, "written by restic")
			src := filepath.Join(t.TempDir(), "src")
			smallTree(t, src)
			mustRestic(t, nil, tg.args(dir, pw, "init")...)
			mustRestic(t, nil, tg.args(dir, pw, "backup", "-q", src)...)

			resticSn := parseSnapshots(t, "restic", mustRestic(t, nil, tg.args(dir, pw, "snapshots", "--json")...))
			arcaSn := parseSnapshots(t, "arca", []byte(mustArca(t, tg.args(dir, pw, "snapshots", "--json")...)))
			if len(resticSn) != 1 || len(arcaSn) != 1 || arcaSn[0].ID != resticSn[0].ID {
				t.Fatalf("snapshots: restic %+v, arca %+v", resticSn, arcaSn)
			}
			dst := t.TempDir()
			mustArca(t, tg.args(dir, pw, "restore", resticSn[0].ID, "--target", dst)...)
			compareTrees(t, src, filepath.Join(dst, src), compareOptions{})

			// a second backup by arca deduplicates against restic's data
			if err := os.WriteFile(filepath.Join(src, "new.txt"), []byte("added later\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			summary := summaryOf(t, mustArca(t, tg.args(dir, pw, "backup", "--json", src)...))
			if n := num(summary, "files_new"); n != 1 {
				t.Errorf("arca backup after restic: %d new files, want 1", n)
			}
			mustRestic(t, nil, tg.args(dir, pw, "check", "--read-data")...)
			if sn := parseSnapshots(t, "restic", mustRestic(t, nil, tg.args(dir, pw, "snapshots", "--json")...)); len(sn) != 2 {
				t.Errorf("restic sees %d snapshots, want 2", len(sn))
			}
		})
	}
}

// TestSFTPLockSeenByRestic: while an arca backup over SFTP runs, its lock
// is in the repository, restic lists it and an exclusive restic command
// (check) refuses with exit code 11; afterwards the lock is gone.
func TestSFTPLockSeenByRestic(t *testing.T) {
	resticBin(t)
	for _, tg := range sftpTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.newDir(t)
			pw := passwordFile(t, "locks over sftp")
			mustArca(t, tg.args(dir, pw, "init")...)

			release := filepath.Join(t.TempDir(), "release")
			var o, e bytes.Buffer
			var code int
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				code = run(tg.args(dir, pw, "backup", "--stdin-filename", "slow.txt", "--stdin-from-command", "--",
					"sh", "-c", "while [ ! -e "+release+" ]; do sleep 0.05; done; echo done"), strings.NewReader(""), &o, &e)
			}()
			finish := func() {
				if err := os.WriteFile(release, nil, 0o600); err != nil {
					t.Error(err)
				}
				wg.Wait()
			}
			defer func() {
				if _, err := os.Stat(release); err != nil {
					finish()
				}
			}()

			locks := filepath.Join(dir, "locks")
			// lock files, not the temporary file of one being written
			lockFiles := func() []string {
				var names []string
				for _, n := range listDir(t, locks) {
					if !strings.Contains(n, "-restic-temp-") {
						names = append(names, n)
					}
				}
				return names
			}
			deadline := time.Now().Add(2 * time.Minute)
			for len(lockFiles()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("arca never took its lock")
				}
				time.Sleep(20 * time.Millisecond)
			}
			held := lockFiles()

			listed := strings.Fields(string(mustRestic(t, nil, tg.args(dir, pw, "list", "locks", "--no-lock")...)))
			if len(listed) != 1 || len(held) != 1 || listed[0] != held[0] {
				t.Errorf("restic list locks = %v, want arca's lock %v", listed, held)
			}
			_, errOut, exit := runRestic(t, nil, tg.args(dir, pw, "check")...)
			if exit != 11 || !strings.Contains(string(errOut), "repository is already locked") {
				t.Errorf("restic check during arca's backup: exit %d, stderr:\n%s\nwant exit 11 and \"repository is already locked\"", exit, errOut)
			}

			finish()
			if code != 0 {
				t.Fatalf("arca backup: exit %d\n%s%s", code, o.String(), e.String())
			}
			if n := listDir(t, locks); len(n) != 0 {
				t.Errorf("locks left after the backup: %v", n)
			}
			mustRestic(t, nil, tg.args(dir, pw, "check")...)
		})
	}
}

// TestSFTPStartFailureOutput: when the ssh command fails, arca shows its
// stderr lines as restic does ("subprocess <program>: …") and exits like
// restic, with restic's message (arca adds how the process ended).
func TestSFTPStartFailureOutput(t *testing.T) {
	resticBin(t)
	dir := t.TempDir()
	pw := passwordFile(t, "pw")
	// (-o values are CSV in restic and arca: no double quotes or commas)
	args := []string{"-r", "sftp:somehost:" + dir + "/repo", "-p", pw, "-o", `sftp.command=sh -c 'echo ssh: connect to host somehost port 22: Connection refused >&2; exit 255'`, "snapshots"}
	_, resticErr, resticExit := runRestic(t, nil, args...)
	_, arcaErr, arcaExit := arcaCmd(t, args...)
	if arcaExit != resticExit || resticExit != 1 {
		t.Errorf("exit codes: arca %d, restic %d, want 1", arcaExit, resticExit)
	}
	// restic's output depends on a race between reading the subprocess's
	// output and noticing its exit: it may lose the stderr line, and its
	// error differs after this point. arca's does not.
	const cut = "unable to start the sftp session, error: "
	want, _, found := strings.Cut(dropSubprocessLines(string(resticErr)), cut)
	if got := dropSubprocessLines(arcaErr); !found || !strings.HasPrefix(got, want+cut) {
		t.Errorf("arca's stderr does not start with restic's:\nrestic:\n%s\narca:\n%s", resticErr, arcaErr)
	}
	if !strings.Contains(arcaErr, "subprocess sh: ssh: connect to host somehost port 22: Connection refused\n") {
		t.Errorf("arca does not show the subprocess's stderr:\n%s", arcaErr)
	}
}

// TestSFTPNoRepository: a location without a repository gives restic's
// message and exit code 10.
func TestSFTPNoRepository(t *testing.T) {
	resticBin(t)
	for _, tg := range sftpTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.newDir(t)
			args := tg.args(dir, passwordFile(t, "pw"), "snapshots")
			_, resticErr, resticExit := runRestic(t, nil, args...)
			_, arcaErr, arcaExit := arcaCmd(t, args...)
			if resticExit != 10 || arcaExit != resticExit || arcaErr != string(resticErr) {
				t.Errorf("restic: exit %d\n%s\narca: exit %d\n%s", resticExit, resticErr, arcaExit, arcaErr)
			}
		})
	}
}

// dropSubprocessLines removes the "subprocess …:" lines from output.
func dropSubprocessLines(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "subprocess ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
