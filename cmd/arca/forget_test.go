package main

// Interop tests for forget and tag: a repository with a long synthetic
// history (one real restic backup, then a few hundred snapshot files written
// through arca's engine with chosen times, zones, hosts, paths and tags) is
// given to restic and arca with the same policies; their --json output must
// be identical (groups, which restic prints in random order, sorted), and so
// must their text output where restic's is deterministic. Snapshots are
// removed and retagged by one program and read by the other.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

const forgetRepoPassword = "forget"

var (
	forgetRepoOnce sync.Once
	forgetRepoDir  string
	forgetRepoErr  error
)

// makeForgetRepo returns (once per test binary, shared: use forgetRepoCopy
// for commands that lock or change it) the repository with the synthetic history.
func makeForgetRepo(t testing.TB) interopRepo {
	t.Helper()
	bin := resticBin(t)
	forgetRepoOnce.Do(func() {
		forgetRepoDir, forgetRepoErr = buildForgetRepo(bin, filepath.Join(sharedFixtureDir(t), "forget"))
	})
	if forgetRepoErr != nil {
		t.Fatalf("forget repository: %v", forgetRepoErr)
	}
	return newInteropRepo(t, forgetRepoDir, forgetRepoPassword)
}

// forgetRepoCopy returns a private copy of makeForgetRepo's repository,
// without the lock files other tests' commands may hold on it.
func forgetRepoCopy(t *testing.T) interopRepo {
	t.Helper()
	dir := copyDir(t, makeForgetRepo(t).repo)
	locks, err := filepath.Glob(filepath.Join(dir, "locks", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range locks {
		if err := os.Remove(l); err != nil {
			t.Fatal(err)
		}
	}
	return newInteropRepo(t, dir, forgetRepoPassword)
}

// forgetHistory returns the snapshots of the synthetic history (without
// tree): about three and a half years at irregular intervals, with a dense
// hourly stretch, half-hourly snapshots across the end of daylight saving
// time in New York, times recorded in several zones (buckets follow the
// recorded zone), two hosts, two path sets (one given unsorted), several
// tag sets, and one snapshot in the future.
func forgetHistory() []*model.Snapshot {
	rng := rand.New(rand.NewPCG(1, 2))
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("", -5*3600)
	}
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -7*3600), ny}
	hosts := []string{"h1", "h2"}
	pathSets := [][]string{{"/data"}, {"/srv/b", "/srv/a"}}
	tagSets := [][]string{nil, {"daily"}, {"weekly", "keep"}, {"keep", "daily"}}
	var out []*model.Snapshot
	add := func(t time.Time) {
		out = append(out, &model.Snapshot{
			Time:     t.In(zones[rng.IntN(len(zones))]),
			Hostname: hosts[rng.IntN(len(hosts))],
			Paths:    slices.Clone(pathSets[rng.IntN(len(pathSets))]),
			Tags:     slices.Clone(tagSets[rng.IntN(len(tagSets))]),
			Username: "tester",
		})
	}
	t := time.Date(2021, 6, 1, 9, 17, 3, 0, time.UTC)
	end := time.Date(2024, 10, 20, 0, 0, 0, 0, time.UTC)
	for t.Before(end) {
		add(t)
		t = t.Add(time.Duration(12+rng.IntN(200))*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
	}
	// hourly for two days, crossing a month end
	for t = time.Date(2024, 10, 30, 1, 5, 7, 0, time.UTC); t.Before(time.Date(2024, 11, 1, 1, 0, 0, 0, time.UTC)); t = t.Add(time.Hour + 13*time.Second) {
		add(t)
	}
	// every 30 minutes across 2024-11-03 01:00 EDT -> 01:00 EST, recorded in New York time
	for t = time.Date(2024, 11, 2, 20, 3, 0, 0, ny); t.Before(time.Date(2024, 11, 3, 8, 0, 0, 0, ny)); t = t.Add(30*time.Minute + 7*time.Second) {
		add(t)
		out[len(out)-1].Time = t.In(ny)
	}
	add(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	out[len(out)-1].Hostname = "h1"
	return out
}

func buildForgetRepo(bin, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), resticTimeout)
	defer cancel()
	repoDir := filepath.Join(dir, "repo")
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("forget fixture\n"), 0o644); err != nil {
		return "", err
	}
	env := resticTestCommandEnv(filepath.Join(dir, "cache"), resticTestEnv(repoDir, forgetRepoPassword))
	for _, args := range [][]string{{"init", "--repository-version", "2"}, {"backup", "-q", "--host", "h1", src}} {
		_, stderr, exit, err := execRestic(ctx, bin, dir, env, args...)
		if err == nil && exit != 0 {
			err = fmt.Errorf("restic %s: exit code %d: %s", strings.Join(args, " "), exit, stderr)
		}
		if err != nil {
			return "", err
		}
		if args[0] == "init" {
			if err := cheapenKey(repoDir, forgetRepoPassword); err != nil {
				return "", err
			}
		}
	}
	be, err := local.Open(ctx, repoDir)
	if err != nil {
		return "", err
	}
	defer be.Close()
	r, err := repo.Open(ctx, be, forgetRepoPassword, repo.OpenOptions{})
	if err != nil {
		return "", err
	}
	defer r.Close()
	backups, err := r.Snapshots(ctx, nil)
	if err != nil || len(backups) != 1 {
		return "", fmt.Errorf("want the one backup snapshot: %v", err)
	}
	real := backups[0]
	for i, sn := range forgetHistory() {
		sn.Tree = real.Tree
		sn.ProgramVersion = real.ProgramVersion
		if i%3 == 0 {
			sn.Summary = real.Summary
		}
		if _, err := r.SaveSnapshot(ctx, sn); err != nil {
			return "", err
		}
	}
	// the real backup was made now, which would be the newest snapshot
	if err := r.RemoveSnapshotFile(ctx, real.ID); err != nil {
		return "", err
	}
	return repoDir, nil
}

// runBothTZ runs args with restic and then with arca (one after the other:
// both take an exclusive lock), in the time zone tz ("": the test's own,
// with arca in-process; else both as processes with TZ=tz).
func runBothTZ(t *testing.T, r interopRepo, tz string, args ...string) (want, got cmdResult) {
	t.Helper()
	if tz == "" {
		return r.restic(t, args...), r.arca(t, args...)
	}
	o, e, code := runRestic(t, append(resticTestEnv(r.repo, r.password), "TZ="+tz), args...)
	want = cmdResult{o, e, code}
	cmd := arcaProcess(t, []string{"TZ=" + tz}, append([]string{"-r", r.repo, "--password-file", r.pwFile}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	got = cmdResult{stdout.Bytes(), stderr.Bytes(), cmd.ProcessState.ExitCode()}
	if err != nil && got.exit <= 0 {
		t.Fatalf("arca %v: %v", args, err)
	}
	return want, got
}

// runManyBoth runs each command line with restic and arca (in-process), up
// to four command lines at a time: the programs spend most of their time
// waiting here. The command lines must not need a lock (they run
// concurrently). It returns restic's and arca's results in order.
func runManyBoth(t *testing.T, r interopRepo, cmdLines [][]string) (want, got []cmdResult) {
	t.Helper()
	bin := resticBin(t)
	want = make([]cmdResult, len(cmdLines))
	got = make([]cmdResult, len(cmdLines))
	errs := make([]error, len(cmdLines))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, args := range cmdLines {
		cache := t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), resticTimeout)
			defer cancel()
			o, e, code, err := execRestic(ctx, bin, "", resticTestCommandEnv(cache, resticTestEnv(r.repo, r.password)), args...)
			want[i], errs[i] = cmdResult{o, e, code}, err
			got[i] = r.arca(t, args...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return want, got
}

// sortForgetJSON normalises forget --json output: the groups sorted (each
// kept byte for byte). Empty output stays empty.
func sortForgetJSON(out []byte) []byte {
	if len(out) == 0 {
		return out
	}
	var groups []json.RawMessage
	if err := json.Unmarshal(out, &groups); err != nil {
		return append([]byte("invalid JSON: "), out...)
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = string(g)
	}
	sort.Strings(parts)
	return []byte(strings.Join(parts, "\n"))
}

// sortForgetText normalises forget's text output: each table ("keep" or
// "remove", with the group's "snapshots for" header before it under -v)
// is one unit, and the units are sorted; the lines before the first group
// and from "Would have removed" on stay in place.
func sortForgetText(out []byte) []byte {
	lines := strings.SplitAfter(string(out), "\n")
	var head, tail string
	var blocks []string
	inTail, afterHeader := false, false
	for _, l := range lines {
		switch {
		case inTail || strings.HasPrefix(l, "Would have removed") || strings.HasPrefix(l, "[0:"):
			inTail = true
			tail += l
			continue
		case strings.HasPrefix(l, "snapshots for ("):
			blocks = append(blocks, "")
		case (strings.HasPrefix(l, "keep ") || strings.HasPrefix(l, "remove ")) && !afterHeader:
			blocks = append(blocks, "")
		}
		afterHeader = strings.HasPrefix(l, "snapshots for (")
		if len(blocks) == 0 {
			head += l
			continue
		}
		blocks[len(blocks)-1] += l
	}
	sort.Strings(blocks)
	return []byte(head + strings.Join(blocks, "\x00") + "\x00" + tail)
}

// forgetPolicies are policies compared with --dry-run --json.
var forgetPolicies = [][]string{
	{"--keep-last", "5"},
	{"-l", "1"},
	{"--keep-hourly", "10"},
	{"--keep-daily", "7"},
	{"--keep-weekly", "8"},
	{"--keep-monthly", "12"},
	{"--keep-yearly", "3"},
	{"--keep-daily", "1000"},
	{"--keep-last", "unlimited"},
	{"--keep-daily", "unlimited"},
	{"--keep-monthly", "unlimited", "--keep-yearly", "2"},
	{"--keep-within", "1y"},
	{"--keep-within", "2m15d"},
	{"--keep-within", "36h"},
	{"--keep-within", "1d"},
	{"--keep-within-hourly", "3d"},
	{"--keep-within-daily", "1m"},
	{"--keep-within-weekly", "3m"},
	{"--keep-within-monthly", "1y6m"},
	{"--keep-within-yearly", "10y"},
	{"-H", "48", "-d", "14", "-w", "8", "-m", "24", "-y", "unlimited"},
	{"--keep-daily", "3", "--keep-within-daily", "7d", "--keep-within-weekly", "2m", "--keep-last", "2"},
	{"--keep-tag", "keep"},
	{"--keep-tag", "daily,keep", "--keep-tag", "weekly", "--keep-last", "1"},
	{"--keep-tag", "", "--keep-last", "1"},
	{"--keep-weekly", "5", "--group-by", ""},
	{"--keep-monthly", "3", "-g", "host"},
	{"--keep-daily", "4", "-g", "paths"},
	{"--keep-last", "2", "-g", "tags"},
	{"--keep-weekly", "2", "-g", "host,tags"},
	{"--keep-within", "3m", "-g", "host,paths,tags"},
	{"--keep-last", "2", "--host", "h1"},
	{"--keep-daily", "3", "--tag", "daily"},
	{"--keep-monthly", "2", "--path", "/data"},
	{"--keep-last", "3", "--tag", "weekly,keep", "--host", "h1", "--host", "h2"},
	{"--unsafe-allow-remove-all", "--host", "h2"},
	{"--keep-last", "1", "--host", "nope"},
}

func TestForgetPoliciesJSONInterop(t *testing.T) {
	t.Parallel()
	r := makeForgetRepo(t)
	var cmdLines [][]string
	for _, policy := range forgetPolicies {
		// without a lock, so that the runs can overlap
		cmdLines = append(cmdLines, append([]string{"forget", "--dry-run", "--no-lock", "--json"}, policy...))
	}
	want, got := runManyBoth(t, r, cmdLines)
	for i, args := range cmdLines {
		if want[i].exit != 0 {
			t.Fatalf("restic %v: exit %d: %s", args, want[i].exit, want[i].stderr)
		}
		compareNormalized(t, args, want[i], got[i], sortForgetJSON)
	}
	// the history must really exercise the policies: restic kept some and
	// removed some with a bucket policy
	out := r.restic(t, "forget", "--dry-run", "--no-lock", "--json", "--keep-daily", "7")
	if !bytes.Contains(out.stdout, []byte(`"oldest daily snapshot"`)) && !bytes.Contains(out.stdout, []byte(`"daily snapshot"`)) {
		t.Errorf("restic kept no daily snapshot:\n%.2000s", out.stdout)
	}
}

// TestForgetTimeZonesInterop runs bucket and duration policies in a zone with
// daylight saving time (and one east of UTC): durations are measured in
// the zone of the newest snapshot, which is the local zone when the offsets
// agree, and the text tables show local times.
func TestForgetTimeZonesInterop(t *testing.T) {
	t.Parallel()
	r := makeForgetRepo(t)
	for _, tz := range []string{"America/New_York", "Asia/Kolkata"} {
		for _, policy := range [][]string{
			{"--keep-hourly", "30", "--keep-daily", "10", "--keep-weekly", "3", "-g", ""},
			{"--keep-within", "1d", "-g", ""},
			{"--keep-within-hourly", "2d", "--keep-within-daily", "1m1d", "-g", "host"},
		} {
			args := append([]string{"forget", "--dry-run", "--no-lock", "--json"}, policy...)
			want, got := runBothTZ(t, r, tz, args...)
			compareNormalized(t, append([]string{"TZ=" + tz}, args...), want, got, sortForgetJSON)
		}
		args := []string{"forget", "--dry-run", "--no-lock", "--keep-hourly", "6", "--keep-within-daily", "3d", "-g", ""}
		want, got := runBothTZ(t, r, tz, args...)
		compareExact(t, append([]string{"TZ=" + tz}, args...), want, got)
	}
}

func TestForgetTextInterop(t *testing.T) {
	t.Parallel()
	// a copy of its own: these commands lock the repository exclusively
	r := forgetRepoCopy(t)
	ids, _ := resticSnapshotList(t, r)
	for _, args := range [][]string{
		{"forget", "--dry-run", "--keep-daily", "3", "--keep-monthly", "2", "--keep-tag", "keep", "-g", ""},
		{"forget", "-n", "-c", "--keep-within-weekly", "1m", "-g", ""},
		{"forget", "-n", "--keep-last", "2", "--keep-within", "1y", "--host", "h2", "--path", "/data", "--tag", "daily"},
		{"forget", "-n", "-q", "--keep-last", "2"},
		{"forget", "-n", "--keep-last", "1", "--host", "nope"},
		{"forget", "--dry-run", ids[3], ids[1][:8], ids[3]},
		{"forget", "--dry-run", "--json", ids[0]},
		{"forget", "-n", "--hostname", "h1", "-l", "2", "-g", ""},
		{"forget", "--dry-run", "--no-lock", "-l", "3", "-g", ""},
	} {
		want, got := runBothTZ(t, r, "", args...)
		compareExact(t, args, want, got)
	}
	for _, args := range [][]string{
		{"forget", "--dry-run", "--keep-weekly", "3"},
		{"forget", "--dry-run", "-v", "--keep-monthly", "2", "-g", "host,paths,tags"},
		{"forget", "-n", "--unsafe-allow-remove-all", "--tag", "weekly"},
	} {
		want, got := runBothTZ(t, r, "", args...)
		compareNormalized(t, args, want, got, sortForgetText)
	}
}

func TestForgetErrorsInterop(t *testing.T) {
	t.Parallel()
	// a copy of its own: these commands lock the repository exclusively
	r := forgetRepoCopy(t)
	for _, args := range [][]string{
		{"forget"},
		{"forget", "--dry-run", "--json"},
		{"forget", "--unsafe-allow-remove-all"},
		{"forget", "--keep-last", "-1"},
		{"forget", "--keep-daily", "x"},
		{"forget", "--keep-within", "5"},
		{"forget", "--keep-within", "3w"},
		{"forget", "--keep-within", "-1d"},
		{"forget", "-n", "--keep-tag", "nope", "-g", ""},
		{"forget", "-n", "--keep-tag", "nope", "-g", "", "--json"},
		{"forget", "-n", "-v", "--keep-tag", "nope", "--host", "h1", "-g", "host"},
		{"forget", "--no-lock", "--keep-last", "1"},
		{"forget", "--group-by", "color", "--keep-last", "1"},
	} {
		want, got := runBothTZ(t, r, "", args...)
		if want.exit == 0 {
			t.Errorf("restic %v succeeded", args)
		}
		compareExact(t, args, want, got)
	}
}

// snapshotSet is restic's view of a repository's snapshots: for each, its
// time, host, paths, tags and original ID (not its own ID, which differs
// between copies when a snapshot was rewritten).
func snapshotSet(t *testing.T, r interopRepo) []string {
	t.Helper()
	var sns []struct {
		ID       string    `json:"id"`
		Time     time.Time `json:"time"`
		Hostname string    `json:"hostname"`
		Paths    []string  `json:"paths"`
		Tags     []string  `json:"tags"`
		Original string    `json:"original"`
	}
	out := r.restic(t, "snapshots", "--json")
	if out.exit != 0 {
		t.Fatalf("restic snapshots: %s", out.stderr)
	}
	if err := json.Unmarshal(out.stdout, &sns); err != nil {
		t.Fatal(err)
	}
	var set []string
	for _, s := range sns {
		id := s.ID
		if s.Original != "" {
			id = "rewritten from " + s.Original
		}
		set = append(set, fmt.Sprintf("%s %s %s %q %q", id, s.Time.Format(time.RFC3339Nano), s.Hostname, s.Paths, s.Tags))
	}
	sort.Strings(set)
	return set
}

// TestForgetRemovesAsRestic removes snapshots for real with each program on
// a copy of the repository: the output and the remaining snapshots (as
// restic lists them) must be the same, and restic check must pass.
func TestForgetRemovesAsRestic(t *testing.T) {
	t.Parallel()
	for _, policy := range [][]string{
		{"--keep-last", "2"},
		{"--keep-daily", "5", "--keep-monthly", "3", "--keep-tag", "keep", "-g", "host"},
	} {
		ra := forgetRepoCopy(t)
		rr := forgetRepoCopy(t)
		args := append([]string{"forget"}, policy...)
		got := ra.arca(t, args...)
		want := rr.restic(t, args...)
		compareNormalized(t, args, want, got, sortForgetText)
		if a, r := snapshotSet(t, ra), snapshotSet(t, rr); !slices.Equal(a, r) {
			t.Errorf("%v: arca left %d snapshots, restic %d\narca:\n%s\nrestic:\n%s", args, len(a), len(r), strings.Join(a, "\n"), strings.Join(r, "\n"))
		}
		if out := ra.restic(t, "check", "-q"); out.exit != 0 {
			t.Errorf("restic check after arca %v: %s", args, out.stderr)
		}
	}

	// explicit IDs, with removal reported at --verbose=2
	r := forgetRepoCopy(t)
	ids, _ := resticSnapshotList(t, r)
	out := r.arca(t, "forget", "--verbose=2", ids[0], ids[5][:10])
	if out.exit != 0 {
		t.Fatalf("arca forget: %s", out.stderr)
	}
	wantOut := fmt.Sprintf("removed snapshot/%s\nremoved snapshot/%s\n[0:00] 100.00%%  2 / 2 files deleted\n", ids[0], ids[5])
	if lines := sortLines(out.stdout); string(lines) != string(sortLines([]byte(wantOut))) {
		t.Errorf("arca forget output:\n%s\nwant (in any order):\n%s", out.stdout, wantOut)
	}
	left, _ := resticSnapshotList(t, r)
	if len(left) != len(ids)-2 || slices.Contains(left, ids[0]) || slices.Contains(left, ids[5]) {
		t.Errorf("after removing two snapshots restic lists %d of %d", len(left), len(ids))
	}
}

var (
	regexpNewID   = regexp.MustCompile(`"new_snapshot_id":"[0-9a-f]{64}"`)
	regexpArrowID = regexp.MustCompile(`new snapshot ID: [0-9a-f]{64}`)
)

// tagEdits are tag command lines run by both programs.
var tagEdits = [][]string{
	{"tag", "--add", "new,other", "--host", "h1"},
	{"tag", "--remove", "daily", "--remove", "keep", "--tag", "weekly"},
	{"tag", "--set", "only", "--path", "/data", "--host", "h2"},
	{"tag", "--add", "keep", "--tag", "keep"}, // changes nothing
}

// TestTagInterop tags with arca and with restic on copies of the
// repository: restic must see the same snapshots (tags, original IDs) in
// both, the output must agree, and each program's tags must be usable by
// the other.
func TestTagInterop(t *testing.T) {
	t.Parallel()
	ra := forgetRepoCopy(t)
	rr := forgetRepoCopy(t)
	for _, args := range tagEdits {
		got, want := ra.arca(t, args...), rr.restic(t, args...)
		compareExact(t, args, want, got)
		if a, r := snapshotSet(t, ra), snapshotSet(t, rr); !slices.Equal(a, r) {
			t.Fatalf("%v: snapshots differ\narca:\n%s\nrestic:\n%s", args, strings.Join(a, "\n"), strings.Join(r, "\n"))
		}
	}
	// a second change keeps the first original ID
	args := []string{"tag", "--add", "again", "--tag", "new"}
	got, want := ra.arca(t, args...), rr.restic(t, args...)
	compareExact(t, args, want, got)
	if a, r := snapshotSet(t, ra), snapshotSet(t, rr); !slices.Equal(a, r) {
		t.Fatalf("%v: snapshots differ\narca:\n%s\nrestic:\n%s", args, strings.Join(a, "\n"), strings.Join(r, "\n"))
	}
	if out := ra.restic(t, "check", "-q"); out.exit != 0 {
		t.Errorf("restic check after arca tag: %s", out.stderr)
	}
	// each program reads the other's tags: forget by the new tags
	for _, args := range [][]string{
		{"forget", "--dry-run", "--json", "--keep-tag", "again", "--keep-last", "1"},
		{"forget", "--dry-run", "--json", "--keep-tag", "only", "--tag", "only", "-g", "tags"},
	} {
		for _, r := range []interopRepo{ra, rr} {
			want, got := runBothTZ(t, r, "", args...)
			compareNormalized(t, args, want, got, sortForgetJSON)
		}
	}
}

func TestTagJSONAndVerboseInterop(t *testing.T) {
	t.Parallel()
	ids, _ := resticSnapshotList(t, forgetRepoCopy(t))
	for _, extra := range [][]string{{"--json"}, {"-v"}} {
		ra := forgetRepoCopy(t)
		rr := forgetRepoCopy(t)
		// (an ID given twice, or "latest" after IDs, is not: restic would
		// load the rewritten snapshots again and warn that they are gone)
		args := append([]string{"tag", "--add", "x", ids[2], ids[7][:8]}, extra...)
		got, want := ra.arca(t, args...), rr.restic(t, args...)
		if got.exit != want.exit || !bytes.Equal(got.stderr, want.stderr) {
			t.Errorf("%v: exit %d (restic %d), stderr %q (restic %q)", args, got.exit, want.exit, got.stderr, want.stderr)
		}
		// the new IDs differ (fresh encryption), the old ones and the wording not
		newID := func(out []byte) []byte {
			out = regexpNewID.ReplaceAll(out, []byte(`"new_snapshot_id":"NEW"`))
			return regexpArrowID.ReplaceAll(out, []byte("new snapshot ID: NEW"))
		}
		compareNormalized(t, args, want, got, func(b []byte) []byte { return sortLines(newID(b)) })
		if !bytes.Contains(got.stdout, []byte(ids[2])) {
			t.Errorf("%v: output does not name old snapshot %s:\n%s", args, ids[2], got.stdout)
		}
	}
	// "latest" with a filter, on two copies
	ra := forgetRepoCopy(t)
	rr := forgetRepoCopy(t)
	args := []string{"tag", "--set", "newest", "latest", "--host", "h2"}
	got, want := ra.arca(t, args...), rr.restic(t, args...)
	compareExact(t, args, want, got)
	if a, r := snapshotSet(t, ra), snapshotSet(t, rr); !slices.Equal(a, r) {
		t.Errorf("%v: snapshots differ\narca:\n%s\nrestic:\n%s", args, strings.Join(a, "\n"), strings.Join(r, "\n"))
	}

	r := forgetRepoCopy(t)
	for _, args := range [][]string{
		{"tag"},
		{"tag", "--set", "a", "--add", "b"},
		{"tag", "--json", "--set", "a", "--remove", "b"},
		{"tag", "--set", "", "--host", "h1"},
		{"tag", "--add", "y", "deadbeef"},
	} {
		want, got := r.restic(t, args...), r.arca(t, args...)
		compareExact(t, args, want, got)
	}
}
