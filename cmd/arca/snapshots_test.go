package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// Interop tests for snapshots (and helpers shared with cat_test.go and
// list_test.go): arca and restic run the same command line on the same
// restic-made repository and their output is compared. Both inherit the
// test's time zone (restic through the environment, arca in-process), so
// local timestamps and the "Timestamps shown in" footer agree.

// interopRepo is a repository both programs are pointed at.
type interopRepo struct {
	repo, password string
	pwFile         string // the password in a file, for arca's --password-file
}

func newInteropRepo(t testing.TB, repoDir, password string) interopRepo {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return interopRepo{repo: repoDir, password: password, pwFile: pw}
}

// cmdResult is what one run of a program produced.
type cmdResult struct {
	stdout, stderr []byte
	exit           int
}

func (r interopRepo) restic(t testing.TB, args ...string) cmdResult {
	t.Helper()
	o, e, code := runRestic(t, resticTestEnv(r.repo, r.password), args...)
	return cmdResult{o, e, code}
}

// arca runs arca in-process; it does not use t, so it may run on any goroutine.
func (r interopRepo) arca(_ testing.TB, args ...string) cmdResult {
	o, e, code := runArcaInProc(append([]string{"-r", r.repo, "--password-file", r.pwFile}, args...)...)
	return cmdResult{o, e, code}
}

// runArcaInProc runs arca's command line in this process (stdin empty).
func runArcaInProc(args ...string) (stdout, stderr []byte, exit int) {
	var o, e bytes.Buffer
	code := run(args, strings.NewReader(""), &o, &e)
	return o.Bytes(), e.Bytes(), code
}

// both runs args with restic and with arca.
// arca runs in-process at the same time as restic.
func (r interopRepo) both(t testing.TB, args ...string) (want, got cmdResult) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = r.arca(t, args...)
	}()
	want = r.restic(t, args...)
	<-done
	return want, got
}

// compareExact requires identical stdout, stderr and exit code.
func compareExact(t testing.TB, args []string, want, got cmdResult) {
	t.Helper()
	compareNormalized(t, args, want, got, nil)
}

// compareNormalized compares after applying norm to both stdouts (nil: as is).
func compareNormalized(t testing.TB, args []string, want, got cmdResult, norm func([]byte) []byte) {
	t.Helper()
	cmd := strings.Join(args, " ")
	if got.exit != want.exit {
		t.Errorf("%s: exit code %d, restic %d\narca stderr:\n%s\nrestic stderr:\n%s", cmd, got.exit, want.exit, got.stderr, want.stderr)
	}
	if !bytes.Equal(got.stderr, want.stderr) {
		t.Errorf("%s: stderr differs\narca:\n%s\nrestic:\n%s", cmd, got.stderr, want.stderr)
	}
	gs, ws := got.stdout, want.stdout
	if norm != nil {
		gs, ws = norm(gs), norm(ws)
	}
	if !bytes.Equal(gs, ws) {
		if len(gs) > 8192 || len(ws) > 8192 {
			t.Errorf("%s: stdout differs (%d bytes from arca, %d from restic)", cmd, len(gs), len(ws))
		} else {
			t.Errorf("%s: stdout differs\narca:\n%s\nrestic:\n%s", cmd, gs, ws)
		}
	}
}

// sortLines sorts the lines of out (for listings restic prints in no
// particular order).
func sortLines(out []byte) []byte {
	lines := strings.SplitAfter(string(out), "\n")
	sort.Strings(lines)
	return []byte(strings.Join(lines, ""))
}

// sortGroupBlocks sorts the groups of grouped text output (restic prints
// them in random order). A group is its "snapshots for (...):" line, if
// any (a group with an empty key has none), and its table.
func sortGroupBlocks(out []byte) []byte {
	var blocks []string
	header := false
	for _, line := range strings.SplitAfter(string(out), "\n") {
		startsTable := strings.HasPrefix(line, "ID ")
		if strings.HasPrefix(line, "snapshots for (") || (startsTable && !header) || len(blocks) == 0 {
			blocks = append(blocks, "")
		}
		header = strings.HasPrefix(line, "snapshots for (")
		blocks[len(blocks)-1] += line
	}
	sort.Strings(blocks)
	return []byte(strings.Join(blocks, "\x00"))
}

// compareSnapshotsJSON compares `snapshots --json` output: the bytes must
// be identical; on a difference each snapshot is compared field by field
// to say where.
func compareSnapshotsJSON(t testing.TB, args []string, want, got cmdResult) {
	t.Helper()
	compareExact(t, args, want, got)
	var w, g []map[string]any
	if err := json.Unmarshal(want.stdout, &w); err != nil {
		t.Fatalf("restic %v: %v\n%s", args, err, want.stdout)
	}
	if err := json.Unmarshal(got.stdout, &g); err != nil {
		t.Fatalf("arca %v: invalid JSON: %v\n%s", args, err, got.stdout)
	}
	if len(g) != len(w) {
		t.Errorf("%v: %d snapshots, restic %d", args, len(g), len(w))
		return
	}
	for i := range w {
		compareJSONObjects(t, fmt.Sprintf("%v: snapshot %d", args, i), w[i], g[i])
	}
}

func compareJSONObjects(t testing.TB, what string, want, got map[string]any) {
	t.Helper()
	for k, v := range want {
		if gv, ok := got[k]; !ok {
			t.Errorf("%s: field %q missing", what, k)
		} else if !reflect.DeepEqual(gv, v) {
			t.Errorf("%s: field %q = %v, restic %v", what, k, gv, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: extra field %q", what, k)
		}
	}
}

// compareGroupedJSON compares `snapshots --json --group-by` output, whose
// groups restic prints in random order: the groups, sorted by key, must be
// byte-identical.
func compareGroupedJSON(t testing.TB, args []string, want, got cmdResult) {
	t.Helper()
	norm := func(out []byte) []byte {
		var groups []json.RawMessage
		if err := json.Unmarshal(out, &groups); err != nil {
			return append([]byte("invalid JSON: "), out...)
		}
		var parts []string
		for _, g := range groups {
			var k struct {
				GroupKey json.RawMessage `json:"group_key"`
			}
			if err := json.Unmarshal(g, &k); err != nil || k.GroupKey == nil {
				return append([]byte("group without group_key: "), out...)
			}
			parts = append(parts, string(g))
		}
		sort.Strings(parts)
		return []byte(strings.Join(parts, "\n"))
	}
	compareNormalized(t, args, want, got, norm)
	if !bytes.HasSuffix(got.stdout, []byte("]\n")) {
		t.Errorf("%v: arca output does not end in \"]\\n\"", args)
	}
}

var (
	multiPathOnce sync.Once
	multiPathRepo string
	multiPathErr  error
)

// multiPathRepoPassword is the password of makeMultiPathRepo's repository.
const multiPathRepoPassword = "multi path"

// makeMultiPathRepo makes (once per test binary) a small repository whose
// snapshots exercise the table layout: several paths per snapshot, long and
// wide (CJK) host names, tags needing JSON escaping, a tag list given out of
// order, and one snapshot without a summary (written by arca's engine, as
// older restic versions wrote them).
func makeMultiPathRepo(t testing.TB) interopRepo {
	t.Helper()
	bin := resticBin(t)
	multiPathOnce.Do(func() {
		multiPathRepo, multiPathErr = buildMultiPathRepo(bin, filepath.Join(sharedFixtureDir(t), "multipath"))
	})
	if multiPathErr != nil {
		t.Fatalf("multi-path repository: %v", multiPathErr)
	}
	return newInteropRepo(t, multiPathRepo, multiPathRepoPassword)
}

func buildMultiPathRepo(bin, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), resticTimeout)
	defer cancel()
	repoDir := filepath.Join(dir, "repo")
	for _, d := range []string{"a", "b", "c/deep"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, d, "file"), bytes.Repeat([]byte(d), 700), 0o644); err != nil {
			return "", err
		}
	}
	env := resticTestCommandEnv(filepath.Join(dir, "cache"), resticTestEnv(repoDir, multiPathRepoPassword))
	runIt := func(args ...string) error {
		_, stderr, exit, err := execRestic(ctx, bin, dir, env, args...)
		if err == nil && exit != 0 {
			err = fmt.Errorf("restic %s: exit code %d: %s", strings.Join(args, " "), exit, stderr)
		}
		return err
	}
	if err := runIt("init", "--repository-version", "2"); err != nil {
		return "", err
	}
	if err := cheapenKey(repoDir, multiPathRepoPassword); err != nil {
		return "", err
	}
	backups := [][]string{
		{"--host", "h1", "--tag", "x,longtagname", "--time", "2024-02-01 08:00:00", "a", "b"},
		{"--host", "主机名-wide-host", "--time", "2024-02-02 09:30:00", "a"},
		{"--host", "h1", "--tag", "y", "--tag", "x", "--tag", "<&>", "--time", "2024-02-03 10:00:00", "c", "b"},
		{"--host", "a-rather-long-host-name", "--tag", "z", "--time", "2024-02-04 11:00:00", "c", "a", "b"},
		{"--host", "h1", "--tag", "x,longtagname", "--time", "2024-02-05 12:00:00", "b", "a"},
	}
	for _, b := range backups {
		if err := runIt(append([]string{"backup", "-q"}, b...)...); err != nil {
			return "", err
		}
	}
	// a snapshot without summary and program version, like restic < 0.17 wrote
	be, err := local.Open(ctx, repoDir)
	if err != nil {
		return "", err
	}
	defer be.Close()
	r, err := repo.Open(ctx, be, multiPathRepoPassword, repo.OpenOptions{})
	if err != nil {
		return "", err
	}
	defer r.Close()
	all, err := r.Snapshots(ctx, nil)
	if err != nil {
		return "", err
	}
	old := *all[0]
	old.Summary, old.ProgramVersion, old.Parent = nil, "", nil
	old.Time = time.Date(2023, 12, 24, 18, 0, 0, 0, time.FixedZone("", 3600))
	old.Tags = []string{"old"}
	buf, err := json.Marshal(&old)
	if err != nil {
		return "", err
	}
	if _, err := r.SaveUnpacked(ctx, backend.SnapshotFile, buf); err != nil {
		return "", err
	}
	return repoDir, nil
}

// resticSnapshotList returns the IDs and the first snapshot's paths from
// restic's snapshots --json, oldest first.
func resticSnapshotList(t testing.TB, r interopRepo) (ids, firstPaths []string) {
	t.Helper()
	var sns []struct {
		ID    string   `json:"id"`
		Paths []string `json:"paths"`
	}
	out := r.restic(t, "snapshots", "--json")
	if err := json.Unmarshal(out.stdout, &sns); err != nil || len(sns) == 0 {
		t.Fatalf("restic snapshots --json: %v\n%s", err, out.stdout)
	}
	for _, s := range sns {
		ids = append(ids, s.ID)
	}
	return ids, sns[0].Paths
}

// snapshotsLevel says how many command lines snapshotsCases runs.
type snapshotsLevel int

const (
	snapshotsBasic    snapshotsLevel = iota // a few, for a second repository format
	snapshotsStandard                       // each flag once
	snapshotsExtended                       // combinations and corner cases
)

// snapshotsCases runs snapshots command lines with both programs and
// compares the results.
func snapshotsCases(t *testing.T, r interopRepo, level snapshotsLevel) {
	ids, paths := resticSnapshotList(t, r)
	exact := [][]string{
		{"snapshots"},
		{"snapshots", "--compact"},
		{"snapshots", "--json"},
	}
	var grouped [][]string
	groupedJSON := [][]string{
		{"snapshots", "--group-by", "tags", "--json"},
	}
	if level >= snapshotsStandard {
		exact = append(exact,
			[]string{"snapshots", "--latest", "1"},
			[]string{"snapshots", "--host", "arca-host-a"},
			[]string{"snapshots", "--tag", "daily,weekly"},
			[]string{"snapshots", "--path", paths[0]},
			[]string{"snapshots", "--json", "--latest", "1"},
		)
		grouped = append(grouped, []string{"snapshots", "--group-by", "host"})
	}
	if level >= snapshotsExtended {
		exact = append(exact,
			[]string{"snapshots", "-c", "--latest", "2"},
			[]string{"snapshots", "-H", "arca-host-b", "--host", "h1"},
			[]string{"snapshots", "--tag", "manual", "--tag", "weekly"},
			[]string{"snapshots", "--tag", "x,longtagname", "--path", paths[0]},
			[]string{"snapshots", "--last"},
			[]string{"snapshots", ids[0][:8], "latest", ids[0]},
			[]string{"snapshots", "--host", "h1", ids[len(ids)-1][:10]},
			[]string{"snapshots", "--host", "h1", "latest", "latest"},
			[]string{"snapshots", "deadbeef", ids[0] + ":sub", "latest:sub", "latest", "--tag", "nope,no"},
			[]string{"snapshots", "--json", "--host", "h1"},
			[]string{"snapshots", "--json", ids[1]},
			[]string{"snapshots", "--json", "--path", "/nonexistent"},
		)
		grouped = append(grouped,
			[]string{"snapshots", "--group-by", "host,paths,tags", "--compact"},
			[]string{"snapshots", "-g", "tags", "--latest", "1"},
			[]string{"snapshots", "-g", "paths"},
			[]string{"snapshots", "-g", "host,tags", "--latest", "1", "--tag", "x"},
		)
		groupedJSON = append(groupedJSON,
			[]string{"snapshots", "--json", "-g", "host", "--latest", "1"},
			[]string{"snapshots", "--json", "-g", "host,paths,tags"},
			[]string{"snapshots", "--json", "-g", "paths", "--host", "nope"},
		)
	}
	for _, args := range exact {
		want, got := r.both(t, args...)
		if want.exit != 0 {
			t.Fatalf("restic %v failed: %s", args, want.stderr)
		}
		if slices.Contains(args, "--json") {
			compareSnapshotsJSON(t, args, want, got)
		} else {
			compareExact(t, args, want, got)
		}
	}
	for _, args := range grouped {
		want, got := r.both(t, args...)
		compareNormalized(t, args, want, got, sortGroupBlocks)
	}
	for _, args := range groupedJSON {
		want, got := r.both(t, args...)
		compareGroupedJSON(t, args, want, got)
	}
}

func TestSnapshotsInterop(t *testing.T) {
	resticBin(t)
	for _, opts := range fixtureOptionSets[:2] {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			level := snapshotsBasic
			if opts.Version == 1 {
				level = snapshotsStandard
			}
			snapshotsCases(t, newInteropRepo(t, f.Repo, f.Password), level)
		})
	}
	t.Run("multipath", func(t *testing.T) {
		t.Parallel()
		r := makeMultiPathRepo(t)
		snapshotsCases(t, r, snapshotsExtended)

		// the layout itself, so that a restic change in both is noticed
		out := r.arca(t, "snapshots")
		if !bytes.Contains(out.stdout, []byte("\n\n")) {
			t.Errorf("no blank line between multi-path snapshots:\n%s", out.stdout)
		}
		if !bytes.Contains(out.stdout, []byte("主机名-wide-host")) {
			t.Errorf("wide host name missing:\n%s", out.stdout)
		}
		js := r.arca(t, "snapshots", "--json")
		if !bytes.Contains(js.stdout, []byte(`"\u003c\u0026\u003e"`)) {
			t.Errorf("tag <&> not escaped as restic does:\n%s", js.stdout)
		}
		// only the snapshot without summary: no Size column
		ids, _ := resticSnapshotList(t, r)
		args := []string{"snapshots", ids[0]}
		want, got := r.both(t, args...)
		compareExact(t, args, want, got)
		if bytes.Contains(got.stdout, []byte("Size")) {
			t.Errorf("Size column for a snapshot without summary:\n%s", got.stdout)
		}
	})
}

func TestSnapshotsEmptyRepo(t *testing.T) {
	t.Parallel()
	resticBin(t)
	dir := filepath.Join(t.TempDir(), "repo")
	env := resticTestEnv(dir, "pw")
	if _, stderr, exit := runRestic(t, env, "init"); exit != 0 {
		t.Fatalf("restic init: %s", stderr)
	}
	r := newInteropRepo(t, dir, "pw")
	for _, args := range [][]string{
		{"snapshots"}, {"snapshots", "--json"}, {"snapshots", "--json", "-g", "host"},
	} {
		want, got := r.both(t, args...)
		compareExact(t, args, want, got)
	}
}

// TestOpenErrors: a missing repository and a wrong password end with
// restic's messages and exit codes, in text and with --json.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	f := resticRepoFixture(t, fixtureOptionSets[0])
	missing := newInteropRepo(t, filepath.Join(t.TempDir(), "no-repo"), f.Password)
	wrongPW := newInteropRepo(t, f.Repo, "not the password")
	for _, tc := range []struct {
		r    interopRepo
		args []string
		exit int
	}{
		{missing, []string{"snapshots"}, 10},
		{missing, []string{"--json", "snapshots"}, 10},
		{missing, []string{"cat", "config"}, 10},
		{wrongPW, []string{"snapshots"}, 12},
		{wrongPW, []string{"--json", "key", "list"}, 12},
		{wrongPW, []string{"list", "keys"}, 12},
	} {
		want, got := tc.r.both(t, tc.args...)
		if want.exit != tc.exit {
			t.Fatalf("restic %v: exit %d, expected %d: %s", tc.args, want.exit, tc.exit, want.stderr)
		}
		compareExact(t, tc.args, want, got)
	}
}

// TestGroupSnapshots checks the engine's grouping and --latest selection
// without restic.
func TestGroupSnapshots(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 3, d, 0, 0, 0, 0, time.UTC) }
	mk := func(n int, host string, d int, tags []string, paths ...string) *model.Snapshot {
		sn := &model.Snapshot{Time: day(d), Hostname: host, Tags: tags, Paths: paths}
		sn.ID[0] = byte(n)
		return sn
	}
	list := []*model.Snapshot{
		mk(1, "a", 1, []string{"t2", "t1"}, "/y", "/x"),
		mk(2, "b", 2, nil, "/x"),
		mk(3, "a", 3, []string{"t1", "t2"}, "/x", "/y"),
		mk(4, "a", 4, []string{"t3"}, "/x"),
		mk(5, "a", 5, []string{"t2", "t1"}, "/x", "/y"),
	}
	orig := slices.Clone(list[0].Paths)

	by, err := repo.ParseGroupBy("host,tags")
	if err != nil {
		t.Fatal(err)
	}
	groups := repo.GroupSnapshots(list, by)
	var keys []string
	for _, g := range groups {
		var ids []byte
		for _, sn := range g.Snapshots {
			ids = append(ids, sn.ID[0])
		}
		keys = append(keys, fmt.Sprintf("%s%v:%v", g.Key.Hostname, g.Key.Tags, ids))
	}
	want := []string{"a[t1 t2]:[1 3 5]", "a[t3]:[4]", "b[]:[2]"}
	if !slices.Equal(keys, want) {
		t.Errorf("groups %v, want %v", keys, want)
	}
	if !slices.Equal(list[0].Paths, orig) {
		t.Errorf("GroupSnapshots modified its input: %v", list[0].Paths)
	}
	if p := groups[0].Snapshots[0].Paths; !slices.Equal(p, []string{"/x", "/y"}) {
		t.Errorf("grouped snapshot paths %v, want sorted", p)
	}
	if groups[2].Key.Tags != nil {
		t.Errorf("untagged group key has tags %#v, want nil (JSON null)", groups[2].Key.Tags)
	}
	if g := repo.GroupSnapshots(nil, by); len(g) != 0 {
		t.Errorf("no snapshots gave %d groups", len(g))
	}
	if g := repo.GroupSnapshots(list, repo.GroupBy{}); len(g) != 1 || !g[0].Key.Empty() || len(g[0].Snapshots) != 5 {
		t.Errorf("without grouping: %+v", g)
	}
	if _, err := repo.ParseGroupBy("host,colour"); err == nil || err.Error() != `unknown grouping option: "colour"` {
		t.Errorf("ParseGroupBy(host,colour): %v", err)
	}

	latest := repo.LatestPerHostAndPaths(list, 1)
	var got []byte
	for _, sn := range latest {
		got = append(got, sn.ID[0])
	}
	// newest of (a,/x+/y)=5, (a,/x)=4, (b,/x)=2
	if !bytes.Equal(got, []byte{5, 4, 2}) {
		t.Errorf("LatestPerHostAndPaths(1) = %v", got)
	}
	if n := repo.Newest(list, 2); len(n) != 2 || n[0].ID[0] != 5 || n[1].ID[0] != 4 {
		t.Errorf("Newest(2) wrong")
	}
	if n := repo.Newest(list, 10); len(n) != 5 {
		t.Errorf("Newest(10) = %d snapshots", len(n))
	}
}

// TestTableLayout checks the renderer on the cases restic's tables show:
// multi-line cells, wide characters, trailing spaces cut, row gaps.
func TestTableLayout(t *testing.T) {
	tab := newTable("ID", "Name  ", "Note")
	tab.addRow("1", "日本", "a\nbb")
	tab.addRow("22", "x", "")
	tab.addFooter("2 rows")
	var b bytes.Buffer
	if err := tab.write(&b); err != nil {
		t.Fatal(err)
	}
	want := "ID  Name    Note\n" +
		"----------------\n" +
		"1   日本    a\n" +
		"            bb\n" +
		"22  x\n" +
		"----------------\n" +
		"2 rows\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	tab.rowGap = true
	b.Reset()
	if err := tab.write(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "bb\n\n22") {
		t.Errorf("rowGap: no blank line between rows:\n%s", b.String())
	}
	for s, w := range map[string]int{"abc": 3, "日本": 4, "é": 1, "ｱ": 1, "Ａ": 2, "": 0} {
		if got := displayWidth(s); got != w {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, w)
		}
	}
}
