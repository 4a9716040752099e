package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// resticKey is one entry of `key list --json`.
type resticKey struct {
	Current  bool   `json:"current"`
	ID       string `json:"id"`
	UserName string `json:"userName"`
	HostName string `json:"hostName"`
	Created  string `json:"created"`
}

func resticKeys(t *testing.T, repo string, pwArgs ...string) []resticKey {
	t.Helper()
	var keys []resticKey
	out := mustRestic(t, nil, append(append([]string{"-r", repo}, pwArgs...), "key", "list", "--json")...)
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatalf("restic key list: %v\n%s", err, out)
	}
	return keys
}

func currentKey(t *testing.T, keys []resticKey) resticKey {
	t.Helper()
	for _, k := range keys {
		if k.Current {
			return k
		}
	}
	t.Fatalf("no current key in %+v", keys)
	return resticKey{}
}

// sameExitAndOutput runs args with restic and arca and fails the test when
// exit code, stdout or stderr differ.
func sameExitAndOutput(t *testing.T, args ...string) (exit int, stderr string) {
	t.Helper()
	rout, rerr, rexit := runRestic(t, nil, args...)
	aout, aerr, aexit := arcaCmd(t, args...)
	if aexit != rexit || aout != string(rout) || aerr != string(rerr) {
		t.Errorf("%s:\nrestic exit %d, stdout %q, stderr %q\narca   exit %d, stdout %q, stderr %q",
			strings.Join(args, " "), rexit, rout, rerr, aexit, aout, aerr)
	}
	return aexit, aerr
}

var (
	keyAddText    = regexp.MustCompile(`^saved new key with ID ([0-9a-f]{64})\n$`)
	keyPasswdText = regexp.MustCompile(`^saved new key as <Key of ([^@]*)@(.*), created on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ [+-]\d{4} \S+ m=\+\d+\.\d+>\n$`)
	keyRemoveText = regexp.MustCompile(`^removed key ([0-9a-f]{64})\n$`)
)

// arcaInit creates a repository with arca. (Its key derivation is
// calibrated in this process, so under -race opening its keys in-process
// stays as cheap as restic's keys are natively.)
func arcaInit(t *testing.T, repoDir, pwFile string) {
	t.Helper()
	if _, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pwFile, "init"); exit != 0 {
		t.Fatalf("arca init: exit %d: %s", exit, errOut)
	}
}

// TestKeyInterop: keys arca adds, changes and removes work (or stop
// working) in restic exactly as in arca.
func TestKeyInterop(t *testing.T) {
	resticBin(t)
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	pw1, pw2, pw3 := passwordFile(t, "first"), passwordFile(t, "second"), passwordFile(t, "third")
	arcaInit(t, repoDir, pw1)
	first := currentKey(t, resticKeys(t, repoDir, "-p", pw1))

	// key add: a second key for user u2 on host h2
	out, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pw1, "key", "add", "--new-password-file", pw2, "--user", "u2", "--host", "h2")
	m := keyAddText.FindStringSubmatch(out)
	if exit != 0 || m == nil {
		t.Fatalf("arca key add: exit %d, stdout %q, stderr %q", exit, out, errOut)
	}
	added := m[1]
	keys := resticKeys(t, repoDir, "-p", pw2)
	if len(keys) != 2 {
		t.Fatalf("restic lists %d keys, want 2: %+v", len(keys), keys)
	}
	if cur := currentKey(t, keys); cur.ID != added || cur.UserName != "u2" || cur.HostName != "h2" {
		t.Errorf("restic opens the new password with key %+v, want %s of u2@h2", cur, added)
	}
	mustRestic(t, nil, "-r", repoDir, "-p", pw2, "check")
	if cur := currentKey(t, resticKeys(t, repoDir, "-p", pw1)); cur.ID != first.ID {
		t.Errorf("the first password opens %s, want %s", cur.ID, first.ID)
	}

	// key passwd with the second password: the key of u2 is replaced by
	// one of u3; the second password stops working in both programs
	out, errOut, exit = arcaCmd(t, "-r", repoDir, "-p", pw2, "key", "passwd", "--new-password-file", pw3, "--user", "u3", "--host", "h3")
	m = keyPasswdText.FindStringSubmatch(out)
	if exit != 0 || m == nil || m[1] != "u3" || m[2] != "h3" {
		t.Fatalf("arca key passwd: exit %d, stdout %q, stderr %q", exit, out, errOut)
	}
	for _, args := range [][]string{
		{"-r", repoDir, "-p", pw2, "key", "list"},
		{"-r", repoDir, "-p", pw2, "snapshots"},
	} {
		if exit, _ := sameExitAndOutput(t, args...); exit != 12 {
			t.Errorf("%v with the replaced password: exit %d, want 12", args, exit)
		}
	}
	keys = resticKeys(t, repoDir, "-p", pw3)
	third := currentKey(t, keys)
	if len(keys) != 2 || third.ID == added || third.ID == first.ID || third.UserName != "u3" || third.HostName != "h3" {
		t.Errorf("after passwd restic lists %+v", keys)
	}
	if _, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pw3, "cat", "config"); exit != 0 {
		t.Errorf("arca with the new password: exit %d: %s", exit, errOut)
	}

	// key remove: not the current key (restic refuses it alike), an
	// unknown prefix fails alike, the other key goes
	sameExitAndOutput(t, "-r", repoDir, "-p", pw3, "key", "remove", third.ID[:8])
	sameExitAndOutput(t, "-r", repoDir, "-p", pw3, "key", "remove", "zz")
	sameExitAndOutput(t, "-r", repoDir, "-p", pw3, "key", "remove")
	if n := len(resticKeys(t, repoDir, "-p", pw3)); n != 2 {
		t.Fatalf("%d keys after the refused removals, want 2", n)
	}
	out, errOut, exit = arcaCmd(t, "-r", repoDir, "-p", pw3, "key", "remove", first.ID[:10])
	if m := keyRemoveText.FindStringSubmatch(out); exit != 0 || m == nil || m[1] != first.ID {
		t.Fatalf("arca key remove %s: exit %d, stdout %q, stderr %q", first.ID[:10], exit, out, errOut)
	}
	if keys := resticKeys(t, repoDir, "-p", pw3); len(keys) != 1 || keys[0].ID != third.ID {
		t.Errorf("after remove restic lists %+v", keys)
	}
	if exit, _ := sameExitAndOutput(t, "-r", repoDir, "-p", pw1, "key", "list"); exit != 12 {
		t.Errorf("removed key's password: exit %d, want 12", exit)
	}
}

// TestKeyAddEmptyPassword: --new-insecure-no-password adds a key to a
// repository restic made, which restic opens with --insecure-no-password.
func TestKeyAddEmptyPassword(t *testing.T) {
	resticBin(t)
	repoDir := filepath.Join(t.TempDir(), "repo")
	pw := passwordFile(t, "pw")
	mustRestic(t, nil, "-r", repoDir, "-p", pw, "init")
	out, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pw, "key", "add", "--new-insecure-no-password")
	m := keyAddText.FindStringSubmatch(out)
	if exit != 0 || m == nil {
		t.Fatalf("arca key add: exit %d, stdout %q, stderr %q", exit, out, errOut)
	}
	if cur := currentKey(t, resticKeys(t, repoDir, "--insecure-no-password")); cur.ID != m[1] {
		t.Errorf("restic opens the empty password with %s, want %s", cur.ID, m[1])
	}
}

// TestKeyArgumentErrors: wrong arguments and password flags fail as in restic.
func TestKeyArgumentErrors(t *testing.T) {
	resticBin(t)
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	pw := passwordFile(t, "pw")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	arcaInit(t, repoDir, pw)
	for _, args := range [][]string{
		{"key", "add", "extra"},
		{"key", "passwd", "extra"},
		{"key", "remove", "a", "b"},
		{"key", "add", "--new-password-file", empty},
		{"key", "passwd", "--new-password-file", empty},
		{"key", "add", "--new-password-file", pw, "--new-insecure-no-password"},
		{"key", "add", "--new-password-file", filepath.Join(dir, "missing")},
		{"key", "remove", strings.Repeat("0", 64)},
	} {
		sameExitAndOutput(t, append([]string{"-r", repoDir, "-p", pw}, args...)...)
	}
	if n := len(resticKeys(t, repoDir, "-p", pw)); n != 1 {
		t.Errorf("%d keys after failed commands, want 1", n)
	}

	// no new password and an empty standard input: the empty line read
	// from it is refused, as restic refuses it
	sameExitAndOutput(t, "-r", repoDir, "-p", pw, "key", "add")
	if n := len(resticKeys(t, repoDir, "-p", pw)); n != 1 {
		t.Errorf("%d keys after key add without a new password, want 1", n)
	}
}

// TestKeyCommandsSearchKeys: over SFTP arca's cache remembers the key
// file that opened the repository, and the next command derives the key
// from it while it connects, even where the search would pick another
// key with the same password; the key commands search the key files in
// any case, since the key that opened the repository is what they show.
func TestKeyCommandsSearchKeys(t *testing.T) {
	tg := sftpTargets(t)[0]
	dir := tg.newDir(t)
	pw := passwordFile(t, "remembered")
	cacheDir := t.TempDir()
	cached := func(rest ...string) []string {
		return tg.args(dir, pw, append([]string{"--cache-dir", cacheDir}, rest...)...)
	}
	mustArca(t, tg.args(dir, pw, "init")...)
	mustArca(t, tg.args(dir, pw, "key", "add", "--new-password-file", pw, "--user", "second", "--host", "elsewhere")...)
	keyList := func(args []string) []resticKey {
		var keys []resticKey
		if out := mustArca(t, append(args, "key", "list", "--json")...); json.Unmarshal([]byte(out), &keys) != nil || len(keys) != 2 {
			t.Fatalf("arca key list: %s", out)
		}
		return keys
	}
	searched := currentKey(t, keyList(tg.args(dir, pw, "--no-cache"))).ID
	memo := func() string {
		memos, _ := filepath.Glob(filepath.Join(cacheDir, "*", "locations", "*"))
		if len(memos) != 1 {
			t.Fatalf("key memos in the cache: %v", memos)
		}
		id, err := os.ReadFile(memos[0])
		if err != nil {
			t.Fatal(err)
		}
		return string(id)
	}
	mustArca(t, cached("snapshots")...)
	if got := memo(); got != searched {
		t.Fatalf("the cache remembers key %.8s, the search opened %.8s", got, searched)
	}

	// remember the other key
	var other string
	for _, k := range keyList(tg.args(dir, pw, "--no-cache")) {
		if k.ID != searched {
			other = k.ID
		}
	}
	memos, _ := filepath.Glob(filepath.Join(cacheDir, "*", "locations", "*"))
	keyFile, err := os.ReadFile(filepath.Join(dir, "keys", other))
	if err != nil {
		t.Fatal(err)
	}
	repoCache := filepath.Dir(filepath.Dir(memos[0]))
	if err := os.WriteFile(filepath.Join(repoCache, "keys", other), keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(memos[0], []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	// a command opens with it (after a search the memo would name the
	// searched key again) ...
	mustArca(t, cached("snapshots")...)
	if got := memo(); got != other {
		t.Errorf("after a command the cache remembers key %.8s, want the remembered %.8s", got, other)
	}
	// ... the key commands do not
	if got := currentKey(t, keyList(cached())).ID; got != searched {
		t.Errorf("key list marks key %.8s current, the search opens %.8s", got, searched)
	}
}

// TestMaxKeysReached: with more than 20 key files and a password that
// opens none of those tried, restic gives up with "maximum number of keys
// reached" and exit code 1 (not 12); arca does the same, in text and JSON.
func TestMaxKeysReached(t *testing.T) {
	resticBin(t)
	t.Parallel()
	const pw = "max-keys-pw"
	repo := resticInitCheap(t, pw)
	keys, err := os.ReadDir(filepath.Join(repo, "keys"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %v", err)
	}
	buf, err := os.ReadFile(filepath.Join(repo, "keys", keys[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var kf map[string]any
	if err := json.Unmarshal(buf, &kf); err != nil {
		t.Fatal(err)
	}
	// copies of the key under other user names: each its own key file
	for i := range 21 {
		kf["username"] = fmt.Sprintf("user-%d", i)
		out, err := json.Marshal(kf)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, "keys", fmt.Sprintf("%x", sha256.Sum256(out))), out, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"RESTIC_REPOSITORY=" + repo, "RESTIC_PASSWORD=wrong"}
	for _, args := range [][]string{{"key", "list"}, {"--json", "snapshots"}} {
		r := runPiped(t, false, env, "", args...)
		a := runPiped(t, true, env, "", args...)
		if r.exit != 1 || !strings.Contains(r.stderr, "maximum number of keys reached") {
			t.Fatalf("%v: restic (test assumption): exit %d, %s", args, r.exit, r.stderr)
		}
		if a != r {
			t.Errorf("%v: arca exit %d, stdout %q, stderr %q; restic exit %d, stdout %q, stderr %q", args, a.exit, a.stdout, a.stderr, r.exit, r.stdout, r.stderr)
		}
	}
}
