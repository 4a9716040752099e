package main

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The interop tests compare timestamps printed in local time, with restic
// run under TZ=UTC: without a TZ of our own, arca (in-process) uses UTC too.
func init() {
	if os.Getenv("TZ") == "" {
		os.Setenv("TZ", "UTC")
		time.Local = time.UTC
	}
}

// lsFindDumpRepoSets are the fixture repositories of the ls, find and dump
// interop tests (shared with TestResticFixtures).
var lsFindDumpRepoSets = []resticRepoOptions{
	{Version: 1, Compression: "off", Snapshots: 3},
	{Version: 2, Compression: "auto", Snapshots: 4},
	{Version: 2, Compression: "max", Snapshots: 2},
}

// compareJSONMessages parses two outputs of one JSON message per line and
// reports every message and field that differs.
func compareJSONMessages(t *testing.T, what, want, got string) {
	t.Helper()
	w, g := jsonLines(t, want), jsonLines(t, got)
	if len(w) != len(g) {
		t.Errorf("%s: %d messages from arca, %d from restic", what, len(g), len(w))
	}
	bad := 0
	for i := range min(len(w), len(g)) {
		for _, k := range unionKeys(w[i], g[i]) {
			if !reflect.DeepEqual(w[i][k], g[i][k]) && bad < 20 {
				bad++
				t.Errorf("%s: message %d (%v): field %q: arca %#v, restic %#v", what, i, w[i]["path"], k, g[i][k], w[i][k])
			}
		}
	}
}

func unionKeys(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestLsInterop compares arca's ls with restic's on restic-made
// repositories: text, --long, --json, --ncdu, directory arguments,
// --recursive, sorting and subfolders.
func TestLsInterop(t *testing.T) {
	resticBin(t)
	for i, opts := range lsFindDumpRepoSets {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			first := f.Snapshots[0].ID
			cases := [][]string{
				{"ls", "latest"},
				{"ls", "--long", "latest"},
				{"ls", "-l", "--human-readable", first[:8]},
			}
			jsonCases := [][]string{{"ls", "--json", "latest"}}
			ncduCases := [][]string{{"ls", "--ncdu", "latest"}}
			if i == 1 { // the rest on one repository: each case runs both programs
				cases = append(cases, [][]string{
					{"ls", "latest", "/src/text", "/src/symlinks"},
					{"ls", "--long", "latest", "/src/names"},
					{"ls", "--recursive", "latest", "/src/hardlinks"},
					{"ls", "--recursive", "--long", "latest", "/src/deep/d01/d02", "/src/modes"},
					{"ls", "latest", "/src/deep/d01/d02/d03"},
					{"ls", "latest", "/src/nonexistent"},
					{"ls", "--sort", "size", "latest", "/src/text"},
					{"ls", "-l", "--sort", "time", "--reverse", "latest", "/src/mtimes"},
					{"ls", "--sort", "extension", "--recursive", "latest", "/src/modes"},
					{"ls", "--reverse", "latest", "/src/text"},
					{"ls", "-l", first + ":src/text"},
					{"ls", "latest:src/symlinks", "/"},
					{"ls", "--host", "arca-host-b", "latest", "/src/gen"},
					{"ls", "--quiet", "latest", "/src/text"},
					// errors
					{"ls", "latest", "src/text"},
					{"ls"},
					{"ls", "--ncdu", "--sort", "size", "latest"},
					{"ls", "--host", "no-such-host", "latest"},
				}...)
				jsonCases = append(jsonCases, [][]string{
					{"ls", "--json", "--recursive", "latest", "/src/text", "/src/special"},
					{"ls", "--json", first + ":src/symlinks"},
				}...)
				ncduCases = append(ncduCases, []string{"ls", "--ncdu", "latest", "/src/hardlinks"})
			}
			for _, args := range cases {
				sameAsRestic(t, f, nil, args...)
			}

			// --json: identical lines, and the same messages field by field
			for _, args := range jsonCases {
				rout, aout := sameAsRestic(t, f, nil, args...)
				compareJSONMessages(t, strings.Join(args, " "), rout, aout)
				msgs := jsonLines(t, aout)
				if len(msgs) < 2 || msgs[0]["message_type"] != "snapshot" || msgs[1]["message_type"] != "node" {
					t.Errorf("%s: want a snapshot message then node messages, got %d messages", strings.Join(args, " "), len(msgs))
				}
			}

			// --ncdu: identical, and parses to the same structure
			for _, args := range ncduCases {
				rout, aout := sameAsRestic(t, f, nil, args...)
				var r, a any
				if err := json.Unmarshal([]byte(rout), &r); err != nil {
					t.Fatalf("restic %s: %v", strings.Join(args, " "), err)
				}
				if err := json.Unmarshal([]byte(aout), &a); err != nil {
					t.Fatalf("arca %s: not JSON: %v", strings.Join(args, " "), err)
				}
				if !reflect.DeepEqual(r, a) {
					t.Errorf("%s: parsed ncdu export differs", strings.Join(args, " "))
				}
			}
		})
	}
}

// TestLsListsEverything checks arca's ls against the fixture's own view of
// the tree, independently of restic: every path of the source tree is
// listed exactly once.
func TestLsListsEverything(t *testing.T) {
	resticBin(t)
	f := resticRepoFixture(t, lsFindDumpRepoSets[0])
	out, errOut, code := arcaOnRepo(t, f, "ls", "--json", "latest")
	if code != 0 {
		t.Fatalf("arca ls: exit %d: %s", code, errOut)
	}
	entries, err := fixtureScanTree(f.Source, compareOptions{IgnoreXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range jsonLines(t, out)[1:] {
		seen[m["path"].(string)]++
	}
	for rel := range entries {
		p := "/src"
		if rel != "." {
			p += "/" + rel
		}
		if !strings.Contains(rel, "\xff") && !strings.Contains(rel, "\xc3\x28") && !strings.Contains(rel, "\xfe") && seen[p] != 1 {
			t.Errorf("%q listed %d times", p, seen[p])
		}
	}
	if len(seen) != len(entries) {
		t.Errorf("ls lists %d paths, the source tree has %d", len(seen), len(entries))
	}
}
