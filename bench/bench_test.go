package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"github.com/arca-backup/arca/backend/connect"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/crypto"
)

// resticForTest finds the restic binary or skips (fails in CI).
func resticForTest(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("RESTIC_BIN")
	if bin == "" {
		if p, err := exec.LookPath("restic"); err == nil {
			bin = p
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("restic binary not found (set RESTIC_BIN)")
		}
		t.Skip("restic binary not found")
	}
	return bin
}

// cheapenKey replaces the repository's key file by one with cheap scrypt
// parameters, so that each of the many short runs in tests does not spend
// half a second deriving the key.
func cheapenKey(repoDir, password string) error {
	return rekey(context.Background(), repoDir, connect.Options{}, password, crypto.Params{N: 1 << 10, R: 8, P: 1})
}

// tinyConfig is a harness configuration for tests: tiny corpora, one
// round, cheap keys, everything under t's temporary directories.
func tinyConfig(t *testing.T, args ...string) config {
	t.Helper()
	base := []string{"-restic", resticForTest(t), "-rounds", "1", "-work", t.TempDir(), "-out", t.TempDir()}
	if !slices.Contains(args, "-source") {
		base = append(base, "-size", "1MiB")
	}
	cfg, err := parseConfig(append(base, args...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.afterInit = cheapenKey
	cfg.stdout = io.Discard
	if !testing.Verbose() {
		cfg.stderr = io.Discard
	}
	cfg.keep = true // the work directory is t's; keeping it lets tests look at the templates
	return cfg
}

func readReport(t *testing.T, dir string) report {
	t.Helper()
	buf, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(buf, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// result finds the result of scenario name on corpus kind.
func (rep *report) result(t *testing.T, kind, name string) scenarioResult {
	t.Helper()
	for _, r := range rep.Results {
		if r.Corpus == kind && r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for %s on %s", name, kind)
	return scenarioResult{}
}

// resticGrowth is how much restic's first run of scenario name on corpus
// kind grew the repository.
func (rep *report) resticGrowth(t *testing.T, kind, name string) int64 {
	t.Helper()
	s := rep.result(t, kind, name).Samples["restic"]
	if len(s) == 0 || s[0].RepoDelta == nil {
		t.Fatalf("%s/%s: no repository growth measured", kind, name)
	}
	return *s[0].RepoDelta
}

// arcaHas lists the scenarios the arca of this branch must run.
var arcaHas = map[string]bool{"init": true, "backup": true, "backup-off": true, "backup-max": true, "backup-incremental": true, "backup-unchanged": true, "restore": true}

// TestHarnessTinyCorpus runs every scenario on every corpus kind at tiny
// size with the real arca and restic, and checks the report: restic ran
// everything, arca ran what it has and is "not available" (never failed)
// elsewhere, the repository growth of backups makes sense, and the
// repositories the runs copied from were left as they were. It makes no
// timing assertion.
func TestHarnessTinyCorpus(t *testing.T) {
	cfg := tinyConfig(t, "-corpus", strings.Join(corpusNames(), ","))
	chdirModuleRoot(t)
	if err := runConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	rep := readReport(t, cfg.outDir)
	if len(rep.Corpora) != len(corpusKinds) || len(rep.Results) != len(corpusKinds)*len(scenarioOrder) {
		t.Fatalf("%d corpora, %d results", len(rep.Corpora), len(rep.Results))
	}
	if rep.Machine.Cores == 0 || !strings.Contains(rep.Machine.Restic, "restic 0.") {
		t.Errorf("machine info incomplete: %+v", rep.Machine)
	}
	if want := "scrypt N=1024 r=8 p=1"; rep.Key != want { // cheapenKey's
		t.Errorf("report names the key %q, want %q", rep.Key, want)
	}
	for _, c := range rep.Corpora {
		if c.Stats.Bytes != 1<<20 || c.Stats.Files == 0 || c.Edits.Bytes == 0 {
			t.Errorf("corpus %s: %+v", c.Kind, c)
		}
		for _, name := range scenarioOrder {
			r := rep.result(t, c.Kind, name)
			for _, p := range []string{"arca", "restic"} {
				st := r.Status[p]
				if p == "restic" || arcaHas[name] {
					if st != statusOK || len(r.Samples[p]) != 1 {
						t.Errorf("%s/%s %s: %s %q, %d samples", c.Kind, name, p, st, r.Error[p], len(r.Samples[p]))
						continue
					}
				} else if st != statusOK && st != statusNotAvailable {
					t.Errorf("%s/%s %s: %s: %s", c.Kind, name, p, st, r.Error[p])
				}
				for _, s := range r.Samples[p] {
					if s.Wall <= 0 || s.MaxRSS <= 0 {
						t.Errorf("%s/%s %s: not measured: %+v", c.Kind, name, p, s)
					}
				}
			}
		}
		// restic's growth: a first backup stores the corpus (without
		// compression, at least all of it); a backup of the unchanged
		// corpus onto its parent stores only a snapshot and a few trees;
		// the edited corpus stores about the edited bytes.
		delta := func(name string) int64 { return rep.resticGrowth(t, c.Kind, name) }
		if d := delta("backup-off"); d < c.Stats.Bytes {
			t.Errorf("%s: first backup grew the repository by %d bytes, corpus has %d", c.Kind, d, c.Stats.Bytes)
		}
		if d := delta("backup-unchanged"); d <= 0 || d > c.Stats.Bytes/8 {
			t.Errorf("%s: backup of the unchanged corpus grew the repository by %d bytes", c.Kind, d)
		}
		if d := delta("backup-incremental"); d < c.Edits.Bytes/4 || d > c.Stats.Bytes/2 {
			t.Errorf("%s: incremental backup grew the repository by %d bytes (edits: %+v)", c.Kind, d, c.Edits)
		}
	}
	// forget and prune ran on copies: the repository they were copied from
	// still has its four snapshots and passes a full check.
	multi := filepath.Join(cfg.workDir, "repos", "templates", "mixed-multi")
	restic := func(args ...string) *exec.Cmd {
		cmd := exec.Command(cfg.resticBin, append([]string{"-r", multi, "--no-cache"}, args...)...)
		cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=bench-password")
		return cmd
	}
	out, err := restic("--json", "snapshots").Output()
	if err != nil {
		t.Fatalf("snapshots of %s: %v", multi, err)
	}
	var snaps []json.RawMessage
	if err := json.Unmarshal(out, &snaps); err != nil || len(snaps) != 4 {
		t.Errorf("template has %d snapshots after the runs, want 4 (%v)", len(snaps), err)
	}
	if out, err := restic("check", "--read-data").CombinedOutput(); err != nil {
		t.Errorf("check of the template after the runs: %v\n%s", err, out)
	}
	// every template is a copy of the one restic init wrote: one key
	empty, _ := os.ReadDir(filepath.Join(cfg.workDir, "repos", "templates", "empty", "keys"))
	for _, tp := range []string{"empty", "mixed-base", "mixed-multi", "mixed-forgotten"} {
		keys, err := os.ReadDir(filepath.Join(cfg.workDir, "repos", "templates", tp, "keys"))
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || len(empty) != 1 || keys[0].Name() != empty[0].Name() {
			t.Errorf("template %s has keys %v, want the empty template's %v", tp, keys, empty)
		}
	}
	md, err := os.ReadFile(filepath.Join(cfg.outDir, "report.md"))
	if err != nil || !strings.Contains(string(md), "| source-tree | prune |") {
		t.Errorf("report.md incomplete: %v", err)
	}
	checkSVG(t, filepath.Join(cfg.outDir, "report.svg"), len(rep.Results))
}

// TestHarnessRemoteBackends runs a backup onto a parent snapshot and a
// restore on each test server whose variables are set (CI starts them with
// ARCA_TEST_SERVERS=1): restic runs, the repository growth is measured
// through the server's data directory, and arca runs or is "not
// available" (a backend it does not have yet), never failed.
func TestHarnessRemoteBackends(t *testing.T) {
	ran := 0
	for kind, v := range map[string]string{"s3": "S3_REPOSITORY", "sftp": "SFTP_REPOSITORY", "rest": "REST_REPOSITORY"} {
		if os.Getenv(v) == "" {
			continue
		}
		ran++
		t.Run(kind, func(t *testing.T) {
			// S3 runs without a cache, the others with one
			cached := kind != "s3"
			args := []string{"-backend", kind, "-corpus", "huge-file", "-size", "256KiB", "-scrypt-p", "1"}
			if cached {
				args = append(args, "-cache")
			}
			cfg := tinyConfig(t, append(args, "backup-unchanged", "restore")...)
			cfg.keep = false // remove the repositories from the server
			chdirModuleRoot(t)
			if err := runConfig(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			rep := readReport(t, cfg.outDir)
			// both programs opened the repositories with the key -scrypt-p wrote
			if want := "scrypt N=32768 r=8 p=1"; rep.Key != want {
				t.Errorf("report names the key %q, want %q", rep.Key, want)
			}
			for _, name := range []string{"backup-unchanged", "restore"} {
				r := rep.result(t, "huge-file", name)
				if r.Status["restic"] != statusOK || len(r.Samples["restic"]) != 1 {
					t.Errorf("%s: restic %s: %s", name, r.Status["restic"], r.Error["restic"])
				}
				if st := r.Status["arca"]; st != statusOK && st != statusNotAvailable {
					t.Errorf("%s: arca %s: %s", name, st, r.Error["arca"])
				}
			}
			if s := rep.result(t, "huge-file", "backup-unchanged").Samples["restic"]; len(s) == 1 && kind != "s3" && s[0].RepoDelta == nil {
				t.Error("repository growth not measured")
			}
			// with the cache, arca remembered the key of every repository
			// it opened (the run's copy and the shared template); without
			// it, nothing was cached
			memos, _ := filepath.Glob(filepath.Join(cfg.workDir, "cache", "*", "locations", "*"))
			snaps, _ := filepath.Glob(filepath.Join(cfg.workDir, "cache", "*", "snapshots", "*", "*"))
			if rep.Cache != cached || cached && (len(memos) < 2 || len(snaps) == 0) || !cached && len(memos)+len(snaps) > 0 {
				t.Errorf("cache %v (report: %v): %d key memos, %d cached snapshots", cached, rep.Cache, len(memos), len(snaps))
			}
		})
	}
	if ran == 0 {
		t.Skip("no test server variables set (S3_REPOSITORY, SFTP_REPOSITORY, REST_REPOSITORY)")
	}
}

// chdirModuleRoot makes the module root the working directory for the
// test, where the harness builds ./cmd/arca.
func chdirModuleRoot(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("go.mod"); err == nil {
		return
	}
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir("bench") })
}

// checkSVG checks that the chart is well-formed XML with a labelled group
// per result and the 1.0 reference line.
func checkSVG(t *testing.T, path string, groups int) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(buf)))
	labels := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report.svg is not well-formed: %v", err)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "text" {
			for _, a := range el.Attr {
				if a.Name.Local == "class" && a.Value == "scenario" {
					labels++
				}
			}
		}
	}
	if labels != groups {
		t.Errorf("report.svg has %d scenario labels, want %d", labels, groups)
	}
	if !strings.Contains(string(buf), "1.0 = same as restic") {
		t.Error("report.svg has no 1.0 reference line")
	}
}

// TestUnavailableAndFailedRuns runs the harness with an "arca" that is
// restic behind a wrapper refusing check as an unknown command (the way
// cobra does) and failing forget: check is reported "not available", forget
// "failed", the other scenarios run, the report is written and the run
// ends with an error naming the failure.
func TestUnavailableAndFailedRuns(t *testing.T) {
	cfg := tinyConfig(t, "-corpus", "huge-file", "check", "forget", "restore")
	wrapper := filepath.Join(t.TempDir(), "arca")
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do
	case "$a" in
	check) echo 'unknown command "check" for "restic"' >&2; exit 1;;
	forget) echo 'Fatal: disk on fire' >&2; exit 1;;
	esac
done
exec %q "$@"
`, cfg.resticBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.arcaBin = wrapper
	err := runConfig(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "1 scenario runs failed") {
		t.Fatalf("run error %v, want one failure", err)
	}
	rep := readReport(t, cfg.outDir)
	want := map[string]string{"check": statusNotAvailable, "forget": statusFailed, "restore": statusOK}
	for name, st := range want {
		r := rep.result(t, "huge-file", name)
		if r.Status["arca"] != st || r.Status["restic"] != statusOK || len(r.Samples["restic"]) != 1 {
			t.Errorf("%s: status %v, error %v", name, r.Status, r.Error)
		}
	}
	if e := rep.result(t, "huge-file", "forget").Error["arca"]; !strings.Contains(e, "disk on fire") {
		t.Errorf("forget error %q does not carry the program's message", e)
	}
	md, _ := os.ReadFile(filepath.Join(cfg.outDir, "report.md"))
	if !strings.Contains(string(md), "| huge-file | check | arca not available |") {
		t.Errorf("report.md does not show check as not available:\n%s", md)
	}
}

// TestHarnessSourceDirectory runs the harness on a directory of the
// user's (-source): both programs back it up in place, the scenarios that
// would edit it are left out, the report names the directory with its
// counts, and the directory is exactly as it was, down to its files'
// inodes and change times.
func TestHarnessSourceDirectory(t *testing.T) {
	src := t.TempDir()
	w := newCorpusWriter(src, 5, 1)
	for i, c := range []content{wordText, randomBytes, codeText, wordText} {
		if err := w.write(fmt.Sprintf("d%d/f%d", i%2, i), int64(100<<10*(i+1)), c); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d0/f0", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	identity := func() string {
		cmd := exec.Command("sh", "-c", "find . -exec stat -c '%n %i %Z %Y %s' {} + | sort")
		cmd.Dir = src
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	before, digest := identity(), treeDigest(t, src)

	cfg := tinyConfig(t, "-source", src)
	chdirModuleRoot(t)
	if err := runConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if after := identity(); after != before || !sameTree(digest, treeDigest(t, src)) {
		t.Errorf("the source directory changed:\n%s\nafter:\n%s", before, after)
	}
	rep := readReport(t, cfg.outDir)
	want := corpusStats{Files: 5, Bytes: w.stats.Bytes}
	if len(rep.Corpora) != 1 || rep.Corpora[0].Kind != sourceCorpus || rep.Corpora[0].Source != src || rep.Corpora[0].Stats != want {
		t.Fatalf("corpora %+v, want the source %s with %+v", rep.Corpora, src, want)
	}
	var ran []string
	for _, r := range rep.Results {
		ran = append(ran, r.Name)
		for _, p := range []string{"arca", "restic"} {
			if (p == "restic" || arcaHas[r.Name]) && (r.Status[p] != statusOK || len(r.Samples[p]) != 1) {
				t.Errorf("%s %s: %s %q", r.Name, p, r.Status[p], r.Error[p])
			}
		}
	}
	if wantRan := slices.DeleteFunc(scenarioNames(), func(n string) bool { return scenarios[n].edits }); !slices.Equal(ran, wantRan) ||
		slices.Contains(ran, "backup-incremental") || len(ran) < 6 {
		t.Errorf("scenarios run: %v, want %v", ran, wantRan)
	}
	// a first backup stores all of the directory; a backup of it onto
	// that snapshot finds every file unchanged and adds little
	grow := func(name string) int64 { return rep.resticGrowth(t, sourceCorpus, name) }
	if d := grow("backup-off"); d < want.Bytes {
		t.Errorf("first backup grew the repository by %d bytes, the directory has %d", d, want.Bytes)
	}
	if d := grow("backup-unchanged"); d <= 0 || d > want.Bytes/8 {
		t.Errorf("backup of the unchanged directory grew the repository by %d bytes", d)
	}
	// the restores' targets are gone once their scenario ended
	if left, _ := filepath.Glob(filepath.Join(cfg.workDir, "runs", "restore-*")); len(left) > 0 {
		t.Errorf("restore targets left behind: %v", left)
	}
	md, err := os.ReadFile(filepath.Join(cfg.outDir, "report.md"))
	if err != nil || !strings.Contains(string(md), "| source (`"+src+"`) | 5 |") {
		t.Errorf("report.md does not name the source: %v\n%s", err, md)
	}
}

// TestSourceFlag checks what -source accepts and refuses.
func TestSourceFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"-source", dir, "backup", "restore"})
	if err != nil || !slices.Equal(cfg.corpora, []string{sourceCorpus}) || !slices.Equal(cfg.scenarios, []string{"backup", "restore"}) || cfg.source != dir {
		t.Errorf("-source %s backup restore: %+v, %v", dir, cfg, err)
	}
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"-source", dir, "-corpus", "mixed"}, "-source and -corpus exclude each other"},
		{[]string{"-source", dir, "-size", "1GiB"}, "-source and -size exclude each other"},
		{[]string{"-source", dir, "backup", "prune"}, "scenario prune edits the corpus"},
		{[]string{"-source", file}, "is not a directory"},
		{[]string{"-source", filepath.Join(dir, "missing")}, "no such file or directory"},
	} {
		if _, err := parseConfig(c.args); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.err)
		}
	}
	// the harness writes its repositories into the work directory
	for _, work := range []string{dir, filepath.Join(dir, "work"), filepath.Dir(dir)} {
		cfg, err := parseConfig([]string{"-restic", "/bin/false", "-source", dir, "-work", work})
		if err != nil {
			t.Fatal(err)
		}
		cfg.stdout, cfg.stderr = io.Discard, io.Discard
		if err := runConfig(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "must not contain each other") {
			t.Errorf("-work %s: error %v", work, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "work")); !os.IsNotExist(err) {
		t.Errorf("the run wrote into the source: %v", err)
	}
}

// treeDigest maps each file under dir to a hash of its content.
func treeDigest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	m := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[rel] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTree(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCorporaAreDeterministic(t *testing.T) {
	for _, kind := range corpusNames() {
		t.Run(kind, func(t *testing.T) {
			a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
			const size = 3 << 20
			sa, err := corpusKinds[kind].generate(a, size, 7)
			if err != nil {
				t.Fatal(err)
			}
			sb, _ := corpusKinds[kind].generate(b, size, 7)
			if _, err := corpusKinds[kind].generate(c, size, 8); err != nil {
				t.Fatal(err)
			}
			if sa != sb || sa.Bytes != size {
				t.Fatalf("stats differ or wrong size: %+v %+v", sa, sb)
			}
			da := treeDigest(t, a)
			if len(da) != sa.Files || !sameTree(da, treeDigest(t, b)) {
				t.Fatal("same seed, different corpus")
			}
			if sameTree(da, treeDigest(t, c)) {
				t.Fatal("different seeds, same corpus")
			}
		})
	}
}

func TestCorpusShapes(t *testing.T) {
	dir := t.TempDir()
	st, err := generateSmallFiles(filepath.Join(dir, "small"), 4<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if avg := st.Bytes / int64(st.Files); avg < 6<<10 || avg > 10<<10 {
		t.Errorf("small files average %d bytes", avg)
	}
	st, err = generateSourceTree(filepath.Join(dir, "src"), 4<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	var code, bin int
	_ = filepath.WalkDir(filepath.Join(dir, "src"), func(p string, d fs.DirEntry, err error) error {
		switch filepath.Ext(p) {
		case ".go", ".c", ".h", ".py", ".js", ".md":
			b, _ := os.ReadFile(p)
			if strings.ContainsRune(string(b), 0) || (len(b) > 600 && !strings.Contains(string(b), "\n")) {
				t.Errorf("%s does not look like text", p)
			}
			code++
		case ".png", ".so", ".jar", ".gz", ".ico":
			bin++
		}
		return nil
	})
	if code+bin != st.Files || bin == 0 || bin > code/5 {
		t.Errorf("source tree: %d code files, %d binaries, %d files", code, bin, st.Files)
	}
}

// TestEditsAreSmallDeterministicAndLeaveTheOriginal edits hard-linked
// copies of each corpus kind: about 2% of the data changes, all four
// kinds of edit happen (insert and append for the single file), the same
// seed gives the same edits, and the original stays as it was.
func TestEditsAreSmallDeterministicAndLeaveTheOriginal(t *testing.T) {
	for _, kind := range corpusNames() {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "base")
			size := int64(4 << 20)
			if kind == "mixed" {
				size = 16 << 20 // enough small files to touch and delete within 2%
			}
			st, err := corpusKinds[kind].generate(base, size, 3)
			if err != nil {
				t.Fatal(err)
			}
			before := treeDigest(t, base)
			var edited []map[string][32]byte
			var es editStats
			for i := 0; i < 2; i++ {
				e := filepath.Join(dir, fmt.Sprint("edited", i))
				if err := linkTree(base, e); err != nil {
					t.Fatal(err)
				}
				if es, err = applyEdits(e, 3); err != nil {
					t.Fatal(err)
				}
				edited = append(edited, treeDigest(t, e))
			}
			if !sameTree(before, treeDigest(t, base)) {
				t.Fatal("editing the copy changed the original")
			}
			if !sameTree(edited[0], edited[1]) || sameTree(edited[0], before) {
				t.Fatal("edits are not deterministic, or changed nothing")
			}
			if es.Bytes < st.Bytes/100 || es.Bytes > st.Bytes/25 {
				t.Errorf("edits cover %d of %d bytes", es.Bytes, st.Bytes)
			}
			if es.Appended == 0 || es.Inserted == 0 || (st.Files >= 4 && (es.Touched == 0 || es.Deleted == 0)) {
				t.Errorf("edits: %+v", es)
			}
		})
	}
}

// TestActivateKeepsFileIdentity checks that switching corpus states by
// renaming keeps the files' inodes and change times, which is what lets a
// backup of an unchanged state skip every file.
func TestActivateKeepsFileIdentity(t *testing.T) {
	c, err := prepareCorpus("source-tree", t.TempDir(), 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	ident := func() map[string]string {
		m := map[string]string{}
		_ = filepath.WalkDir(c.dir(), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out, _ := exec.Command("stat", "-c", "%i %Z %Y", p).Output()
				rel, _ := filepath.Rel(c.dir(), p)
				m[rel] = string(out)
			}
			return nil
		})
		return m
	}
	first := ident()
	time.Sleep(1100 * time.Millisecond) // ctime has a resolution of seconds in %Z
	if err := c.activate("edited"); err != nil {
		t.Fatal(err)
	}
	if err := c.activate("base"); err != nil {
		t.Fatal(err)
	}
	again := ident()
	if len(first) == 0 || fmt.Sprint(first) != fmt.Sprint(again) {
		t.Fatal("switching states changed the files' identity")
	}
}

func TestRemoteStoreLocations(t *testing.T) {
	t.Setenv("S3_REPOSITORY", "s3:http://127.0.0.1:9000/bucket/repo")
	t.Setenv("S3_DATA_DIR", "/srv/s3/data")
	t.Setenv("S3_BUCKET", "bucket")
	t.Setenv("S3_PREFIX", "repo")
	t.Setenv("S3_SERVER", "versitygw")
	t.Setenv("AWS_ACCESS_KEY_ID", "a")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "b")
	t.Setenv("SFTP_REPOSITORY", "sftp:testhost:/srv/sftp/repo")
	t.Setenv("SFTP_COMMAND", "ssh -F cfg testhost -s sftp")
	t.Setenv("REST_REPOSITORY", "rest:http://restic:pw@127.0.0.1:8000/repo/")
	t.Setenv("REST_ROOT", "/srv/rest")
	for _, tc := range []struct{ kind, loc, local string }{
		{"s3", "s3:http://127.0.0.1:9000/bucket/repo/arca-bench-1/runs/x", "/srv/s3/data/bucket/repo/arca-bench-1/runs/x"},
		{"sftp", "sftp:testhost:/srv/sftp/repo/arca-bench-1/runs/x", "/srv/sftp/repo/arca-bench-1/runs/x"},
		{"rest", "rest:http://restic:pw@127.0.0.1:8000/repo/arca-bench-1/runs/x", "/srv/rest/repo/arca-bench-1/runs/x"},
		{"local", "/w/repos/runs/x", "/w/repos/runs/x"},
	} {
		s, err := newStore(tc.kind, "/w", "1")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.location("runs/x"); got != tc.loc {
			t.Errorf("%s: location %q, want %q", tc.kind, got, tc.loc)
		}
		if got := filepath.Join(s.localDir, "runs/x"); got != tc.local {
			t.Errorf("%s: local directory %q, want %q", tc.kind, got, tc.local)
		}
	}
	t.Setenv("SFTP_COMMAND", "")
	if _, err := newStore("sftp", "/w", "1"); err == nil || !strings.Contains(err.Error(), "SFTP_COMMAND") {
		t.Errorf("sftp without SFTP_COMMAND: %v", err)
	}
}

func TestRatiosAndChart(t *testing.T) {
	d := int64(100 << 20)
	s := func(wall time.Duration, rss int64) sample {
		return sample{Wall: wall, CPU: wall, MaxRSS: rss << 20, RepoDelta: &d}
	}
	rep := &report{Rounds: 3, Corpora: []corpusInfo{{Kind: "mixed"}}, Results: []scenarioResult{
		{Name: "backup", Corpus: "mixed", Bytes: 1e9, Status: map[string]string{"arca": statusOK, "restic": statusOK}, Samples: map[string][]sample{
			"arca":   {s(2*time.Second, 100), s(1*time.Second, 100), s(9*time.Second, 120)},
			"restic": {s(4*time.Second, 400), s(4*time.Second, 400), s(5*time.Second, 400)},
		}},
		{Name: "prune", Corpus: "mixed", Status: map[string]string{"arca": statusNotAvailable, "restic": statusOK}, Samples: map[string][]sample{
			"restic": {s(time.Second, 50)},
		}},
	}}
	r := rep.Results[0]
	if got := r.ratio(wallSeconds); got != 0.5 {
		t.Errorf("wall ratio %v, want 0.5 (median 2s / 4s)", got)
	}
	if got := r.ratio(rssMiB); got != 0.25 {
		t.Errorf("memory ratio %v, want 0.25", got)
	}
	if got := r.throughput("arca"); got != 500 {
		t.Errorf("throughput %v MB/s, want 500", got)
	}
	var md strings.Builder
	rep.markdown(&md)
	for _, want := range []string{"| mixed | backup | 0.50 | 0.50 | 0.25 | 1.00 |", "| mixed | prune | arca not available |", "2.00 s (1.00–9.00)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	p := filepath.Join(t.TempDir(), "report.svg")
	var svg strings.Builder
	rep.svg(&svg)
	if err := os.WriteFile(p, []byte(svg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, p, 2)
	if !strings.Contains(svg.String(), ">0.50<") || !strings.Contains(svg.String(), ">0.25<") {
		t.Errorf("chart lacks the ratio labels:\n%s", svg.String())
	}
}

func TestEstimateOfTheDefaultRun(t *testing.T) {
	cfg, err := parseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	// the default run has to fit in 15 minutes on the project's 2-core
	// machine; the estimate is the harness's own model of that.
	d := estimate(cfg, nil)
	t.Logf("default run estimated at %v", d)
	if d < 2*time.Minute || d > 13*time.Minute {
		t.Errorf("default run estimated at %v", d)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512MiB": 512 << 20, "2GiB": 2 << 30, "100k": 100 << 10, "1000": 1000, "1.5M": 3 << 19} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize(lots) succeeded")
	}
}

// TestMain lets the test binary act as the harness's measuring child.
func TestMain(m *testing.M) {
	if os.Getenv(measureChildEnv) == "1" {
		os.Exit(runMeasuringChild(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestMeasurePeakMemoryIsTheProgramsOwn: a small program measured by the
// harness reports its own peak memory, not the harness's, and a larger
// one reports more.
func TestMeasurePeakMemoryIsTheProgramsOwn(t *testing.T) {
	ballast := make([]byte, 200<<20) // make this process large
	for i := range ballast {
		ballast[i] = 1
	}
	ctx := context.Background()
	small, err := measure(ctx, "/bin/true", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if small.MaxRSS > 50<<20 {
		t.Errorf("/bin/true measured at %d MiB: the harness's memory leaks into the figure", small.MaxRSS>>20)
	}
	big, err := measure(ctx, "/bin/sh", nil, "", "-c", `x=$(head -c 60000000 /dev/zero | tr '\0' a); echo ${#x}`)
	if err != nil {
		t.Fatal(err)
	}
	if big.MaxRSS < 60<<20 || big.MaxRSS < small.MaxRSS {
		t.Errorf("a shell holding 60 MB measured at %d MiB", big.MaxRSS>>20)
	}
	if _, err := measure(ctx, "/bin/false", nil, ""); err == nil {
		t.Error("a failing program measured without error")
	}
	runtime.KeepAlive(ballast)
}
