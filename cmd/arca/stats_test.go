package main

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// progressTime matches the elapsed time of stats' final progress line.
var progressTime = regexp.MustCompile(`(?m)^\[\d+:\d\d(:\d\d)?\] `)

func normalizeStats(s string) string { return progressTime.ReplaceAllString(s, "[t] ") }

// progressCounts matches the per-snapshot counts of the progress line.
var progressCounts = regexp.MustCompile(`(?m)^(\[t\] .* snapshots)(, .*)$`)

// normalizeStatsUnordered also drops the progress line's counts, which are
// those of the last snapshot walked: restic walks the snapshots it selects
// by filter in the order its parallel listing returns them.
func normalizeStatsUnordered(s string) string {
	return progressCounts.ReplaceAllString(normalizeStats(s), "$1, …")
}

var statsModes = []string{"restore-size", "files-by-contents", "raw-data", "blobs-per-file"}

// TestStatsInterop compares arca's stats with restic's on restic-made
// repositories in every mode, for all snapshots, chosen snapshots and
// filtered ones, as text (byte for byte, but for the elapsed time) and as
// JSON (byte for byte and field by field).
func TestStatsInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	for _, opts := range interopRepoSets {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			sn := f.Snapshots
			type selection struct {
				args  []string
				modes []string
				// ordered: the snapshots are named, so both programs take
				// them in the same order and the progress line must match
				ordered bool
			}
			sels := []selection{
				{nil, statsModes, false},
				{[]string{"latest", sn[0].ID[:8]}, statsModes, true},
			}
			if opts.Version == 2 && opts.Compression == "auto" {
				sels = append(sels,
					selection{[]string{"--host", "arca-host-a"}, statsModes, false},
					selection{[]string{"--tag", "daily,weekly", "--tag", "manual"}, statsModes, false},
					selection{[]string{"--host", "arca-host-b", "latest"}, statsModes, true},
					selection{[]string{"--host", "arca-host-b", sn[1].ID}, []string{"raw-data"}, true},
					selection{[]string{"--path", "/nonexistent"}, []string{"restore-size"}, true},
					selection{[]string{"nosuchid", sn[1].ID + ":src", "latest:src", sn[1].ID[:6], sn[1].ID}, []string{"blobs-per-file"}, true},
				)
			}
			if opts.Snapshots == 4 {
				sameAsRestic(t, f, nil, "stats", "--mode", "bogus")
				sameAsRestic(t, f, normalizeStats, "stats", "--quiet", sn[3].ID)
			}
			for _, sel := range sels {
				norm := normalizeStats
				if !sel.ordered {
					norm = normalizeStatsUnordered
				}
				for _, mode := range sel.modes {
					args := append([]string{"stats", "--mode", mode}, sel.args...)
					sameAsRestic(t, f, norm, args...)

					jargs := append([]string{"stats", "--json", "--mode", mode}, sel.args...)
					ro, ao := sameAsRestic(t, f, nil, jargs...)
					compareStatsJSON(t, jargs, ro, ao)
				}
			}
		})
	}
}

// compareStatsJSON compares restic's and arca's stats --json field by field.
func compareStatsJSON(t *testing.T, args []string, resticOut, arcaOut string) {
	t.Helper()
	var r, a map[string]any
	if err := json.Unmarshal([]byte(resticOut), &r); err != nil {
		t.Fatalf("%v: restic output: %v\n%s", args, err, resticOut)
	}
	if err := json.Unmarshal([]byte(arcaOut), &a); err != nil {
		t.Fatalf("%v: arca output: %v\n%s", args, err, arcaOut)
	}
	for k, v := range r {
		if !reflect.DeepEqual(a[k], v) {
			t.Errorf("%v: %s: arca %v, restic %v", args, k, a[k], v)
		}
	}
	for k := range a {
		if _, ok := r[k]; !ok {
			t.Errorf("%v: arca has extra field %s", args, k)
		}
	}
	if _, ok := a["snapshots_count"]; !ok {
		t.Errorf("%v: no snapshots_count", args)
	}
}

// TestStatsModesDiffer checks on one fixture that the modes count
// differently in the ways restic defines: restore-size counts every item
// (more than files-by-contents), raw-data reports compression on version 2.
func TestStatsModesDiffer(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, interopRepoSets[1])
	res := map[string]statsJSON{}
	for _, mode := range statsModes {
		out, stderr, code := arcaOnRepo(t, f, "stats", "--json", "--mode", mode)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", mode, code, stderr)
		}
		var s statsJSON
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		if s.SnapshotsCount != len(f.Snapshots) {
			t.Errorf("%s: %d snapshots, want %d", mode, s.SnapshotsCount, len(f.Snapshots))
		}
		res[mode] = s
	}
	if rs, fc := res["restore-size"], res["files-by-contents"]; rs.TotalFileCount <= fc.TotalFileCount || rs.TotalSize <= fc.TotalSize {
		t.Errorf("restore-size %+v should count more than files-by-contents %+v", rs, fc)
	}
	raw := res["raw-data"]
	if raw.TotalBlobCount == 0 || raw.TotalUncompressedSize <= raw.TotalSize || raw.CompressionRatio <= 1 {
		t.Errorf("raw-data on a compressed repository: %+v", raw)
	}
	out, _, code := arcaOnRepo(t, f, "stats", "--mode", "bogus")
	if code != 1 || out != "" {
		t.Errorf("unknown mode: exit %d, output %q", code, out)
	}
	out, _, _ = arcaOnRepo(t, f, "stats", "--quiet", "latest")
	if !strings.Contains(out, "Stats in restore-size mode:\n") {
		t.Errorf("--quiet hides the report: %q", out)
	}
}
