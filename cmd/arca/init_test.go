package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/arca-backup/arca/chunker"
)

// arcaCmd runs arca in-process with args (no standard input) and returns
// its output and exit code.
func arcaCmd(t *testing.T, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	var o, e bytes.Buffer
	exit = run(args, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), exit
}

// passwordFile writes password to a new file and returns its path.
func passwordFile(t *testing.T, password string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(p, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// repoConfigJSON is `cat config` output.
type repoConfigJSON struct {
	Version           uint   `json:"version"`
	ID                string `json:"id"`
	ChunkerPolynomial string `json:"chunker_polynomial"`
}

func resticConfig(t *testing.T, repo, pwFile string) repoConfigJSON {
	t.Helper()
	var cfg repoConfigJSON
	out := mustRestic(t, nil, "-r", repo, "-p", pwFile, "cat", "config")
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("restic cat config: %v\n%s", err, out)
	}
	return cfg
}

// initText is the text init prints, as restic prints it.
var initText = regexp.MustCompile(`^created restic repository ([0-9a-f]{10}) at (.*)\n` +
	`((?: with chunker parameters copied from secondary repository\n)?)` +
	`\nPlease note that knowledge of your password is required to access\n` +
	`the repository\. Losing your password means that your data is\n` +
	`irrecoverably lost\.\n$`)

// smallTree writes a few files, one large enough for several chunks.
func smallTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"big.bin":        big,
		"a.txt":          []byte("hello\n"),
		"sub/b.txt":      bytes.Repeat([]byte("restic and arca\n"), 1000),
		"sub/deep/c.txt": nil,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
}

// TestInitInterop: repositories arca creates (format 1 and 2) are used by
// restic as its own: check, backup, check --read-data; arca then reads
// what restic wrote. The polynomials are random irreducible ones of degree 53.
func TestInitInterop(t *testing.T) {
	resticBin(t)
	dir := t.TempDir()
	pw := passwordFile(t, "init interop")
	src := filepath.Join(dir, "src")
	smallTree(t, src)

	pols := map[string]bool{}
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			repoDir := filepath.Join(dir, "repo"+version)
			out, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pw, "init", "--repository-version", version)
			if exit != 0 {
				t.Fatalf("arca init: exit %d\n%s", exit, errOut)
			}
			m := initText.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("arca init printed:\n%s", out)
			}
			if m[2] != repoDir || m[3] != "" {
				t.Errorf("init text names %q (copied: %q), want %q", m[2], m[3], repoDir)
			}
			if errOut != "" {
				t.Errorf("arca init wrote to stderr: %q", errOut)
			}

			cfg := resticConfig(t, repoDir, pw)
			if strconv.FormatUint(uint64(cfg.Version), 10) != version || !strings.HasPrefix(cfg.ID, m[1]) || len(cfg.ID) != 64 {
				t.Errorf("restic reads config %+v; init said version %s, ID %s", cfg, version, m[1])
			}
			pol, err := strconv.ParseUint(cfg.ChunkerPolynomial, 16, 64)
			if err != nil {
				t.Fatalf("polynomial %q: %v", cfg.ChunkerPolynomial, err)
			}
			if p := chunker.Pol(pol); p.Deg() != 53 || !p.Irreducible() {
				t.Errorf("polynomial %v: degree %d, irreducible %v", p, p.Deg(), p.Irreducible())
			}
			pols[cfg.ChunkerPolynomial] = true

			// restic's key list shows the one key arca wrote, as current
			var keys []map[string]any
			if err := json.Unmarshal(mustRestic(t, nil, "-r", repoDir, "-p", pw, "key", "list", "--json"), &keys); err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0]["current"] != true {
				t.Errorf("restic key list: %v", keys)
			}

			mustRestic(t, nil, "-r", repoDir, "-p", pw, "check")
			out2 := mustRestic(t, nil, "-r", repoDir, "-p", pw, "snapshots", "--json")
			if strings.TrimSpace(string(out2)) != "[]" {
				t.Errorf("restic snapshots of a new repository: %s", out2)
			}
			backup := mustRestic(t, nil, "-r", repoDir, "-p", pw, "backup", "--json", "--host", "h", src)
			snapID, err := backupSnapshotID(backup)
			if err != nil {
				t.Fatal(err)
			}
			mustRestic(t, nil, "-r", repoDir, "-p", pw, "check", "--read-data")

			// arca reads the config and the snapshot restic wrote
			aout, aerr, exit := arcaCmd(t, "-r", repoDir, "-p", pw, "cat", "config")
			if exit != 0 {
				t.Fatalf("arca cat config: exit %d: %s", exit, aerr)
			}
			var acfg repoConfigJSON
			if err := json.Unmarshal([]byte(aout), &acfg); err != nil || acfg != cfg {
				t.Errorf("arca cat config %+v (%v), restic %+v", acfg, err, cfg)
			}
			aout, aerr, exit = arcaCmd(t, "-r", repoDir, "-p", pw, "snapshots", "--json")
			if exit != 0 {
				t.Fatalf("arca snapshots: exit %d: %s", exit, aerr)
			}
			var snaps []struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(aout), &snaps); err != nil || len(snaps) != 1 || snaps[0].ID != snapID {
				t.Errorf("arca snapshots: %s (%v), want the one snapshot %s", aout, err, snapID)
			}
		})
	}
	if len(pols) != 2 {
		t.Errorf("two inits gave polynomials %v, want two different ones", pols)
	}
}

// TestInitJSON: `init --json` prints restic's message, also with --quiet.
func TestInitJSON(t *testing.T) {
	resticBin(t)
	dir := t.TempDir()
	pw := passwordFile(t, "json")

	rout := mustRestic(t, nil, "-r", filepath.Join(dir, "restic"), "-p", pw, "init", "--json")
	repoDir := filepath.Join(dir, "arca")
	aout, aerr, exit := arcaCmd(t, "-r", repoDir, "-p", pw, "--quiet", "init", "--json")
	if exit != 0 {
		t.Fatalf("arca init --json: exit %d: %s", exit, aerr)
	}
	var rmsg, amsg map[string]any
	if err := json.Unmarshal(rout, &rmsg); err != nil {
		t.Fatalf("restic: %v: %s", err, rout)
	}
	if err := json.Unmarshal([]byte(aout), &amsg); err != nil || !strings.HasSuffix(aout, "}\n") || strings.Count(aout, "\n") != 1 {
		t.Fatalf("arca printed %q (%v), want one line of JSON", aout, err)
	}
	if len(amsg) != len(rmsg) {
		t.Errorf("arca fields %v, restic fields %v", amsg, rmsg)
	}
	for k := range rmsg {
		if _, ok := amsg[k]; !ok {
			t.Errorf("arca lacks field %q", k)
		}
	}
	cfg := resticConfig(t, repoDir, pw)
	if amsg["message_type"] != "initialized" || amsg["id"] != cfg.ID || amsg["repository"] != repoDir {
		t.Errorf("arca: %v; want initialized, id %s, repository %s", amsg, cfg.ID, repoDir)
	}
	// the key order is restic's
	if !strings.HasPrefix(aout, `{"message_type":"initialized","id":"`+cfg.ID+`","repository":`) {
		t.Errorf("arca: %s", aout)
	}
}

// TestInitErrors: failures give restic's messages and exit codes, and an
// existing repository is left alone.
func TestInitErrors(t *testing.T) {
	resticBin(t)
	dir := t.TempDir()
	pw := passwordFile(t, "existing")
	existing := filepath.Join(dir, "existing")
	mustRestic(t, nil, "-r", existing, "-p", pw, "init")
	before := resticConfig(t, existing, pw)
	keysBefore, _ := os.ReadDir(filepath.Join(existing, "keys"))
	// a location below a regular file fails at once (arca retried its
	// check for a config file there for about a quarter of an hour)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"-r", existing, "-p", pw, "init"},
		{"-r", existing, "-p", pw, "init", "--json"},
		{"-r", existing, "-p", pw, "init", "--repository-version", "1"},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--repository-version", "3"},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--repository-version", "0"},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--repository-version", "two"},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "extra"},
		{"-p", pw, "init"},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "--insecure-no-password", "init"},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--from-repo", existing},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--copy-chunker-params"},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--copy-chunker-params", "--from-repo", existing, "--from-password-file", passwordFile(t, "wrong")},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--copy-chunker-params", "--from-repo", filepath.Join(dir, "missing"), "--from-password-file", pw},
		{"-r", filepath.Join(dir, "new"), "-p", pw, "init", "--copy-chunker-params", "--from-repo", existing, "--from-repository-file", pw},
		{"-r", file, "-p", pw, "init"},
		{"-r", filepath.Join(file, "sub"), "-p", pw, "init"},
		{"-r", "/proc/arca-no-such-dir/new", "-p", pw, "init"}, // (a directory nobody can create)
	} {
		rout, rerr, rexit := runRestic(t, nil, args...)
		aout, aerr, aexit := arcaCmd(t, args...)
		name := strings.Join(args[2:], " ")
		if aexit != rexit || aout != string(rout) || aerr != string(rerr) {
			t.Errorf("%s:\nrestic exit %d, stdout %q, stderr %q\narca   exit %d, stdout %q, stderr %q", name, rexit, rout, rerr, aexit, aout, aerr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("a failed init left %s behind", filepath.Join(dir, "new"))
	}
	if after := resticConfig(t, existing, pw); after != before {
		t.Errorf("config changed: %+v, was %+v", after, before)
	}
	if keysAfter, _ := os.ReadDir(filepath.Join(existing, "keys")); len(keysAfter) != len(keysBefore) {
		t.Errorf("%d key files, were %d", len(keysAfter), len(keysBefore))
	}

	// without any password source and no terminal, arca refuses without
	// reading standard input (restic would read a line from it)
	_, aerr, aexit := arcaCmd(t, "-r", filepath.Join(dir, "new"), "init")
	if aexit != 1 || !strings.HasPrefix(aerr, "Fatal: Fatal: ") {
		t.Errorf("init without a password: exit %d, %q", aexit, aerr)
	}
}

// TestInitCopyChunkerParams: the polynomial comes from the source
// repository (a restic fixture), given by flags or by environment.
func TestInitCopyChunkerParams(t *testing.T) {
	src, srcPW := makeResticRepo(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 3})
	srcPWFile := passwordFile(t, srcPW)
	dir := t.TempDir()
	pw := passwordFile(t, "copy")
	srcCfg := resticConfig(t, src, srcPWFile)

	repoDir := filepath.Join(dir, "flags")
	out, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pw, "init", "--copy-chunker-params", "--from-repo", src, "--from-password-file", srcPWFile, "--repository-version", "1")
	if exit != 0 {
		t.Fatalf("arca init: exit %d: %s", exit, errOut)
	}
	if m := initText.FindStringSubmatch(out); m == nil || m[3] == "" {
		t.Errorf("arca init printed:\n%s", out)
	}
	cfg := resticConfig(t, repoDir, pw)
	if cfg.ChunkerPolynomial != srcCfg.ChunkerPolynomial || cfg.ID == srcCfg.ID || cfg.Version != 1 {
		t.Errorf("new config %+v, source %+v", cfg, srcCfg)
	}

	// the same through RESTIC_FROM_REPOSITORY and RESTIC_FROM_PASSWORD
	t.Setenv("RESTIC_FROM_REPOSITORY", src)
	t.Setenv("RESTIC_FROM_PASSWORD", srcPW)
	repoDir = filepath.Join(dir, "env")
	if _, errOut, exit := arcaCmd(t, "-r", repoDir, "-p", pw, "init", "--copy-chunker-params", "--json"); exit != 0 {
		t.Fatalf("arca init (env): exit %d: %s", exit, errOut)
	}
	if cfg := resticConfig(t, repoDir, pw); cfg.ChunkerPolynomial != srcCfg.ChunkerPolynomial {
		t.Errorf("new config %+v, source %+v", cfg, srcCfg)
	}
}
