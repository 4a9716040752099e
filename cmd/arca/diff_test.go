package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// interopRepoSets are the fixture repositories the diff and stats interop
// tests run on (shared with TestResticFixtures, so they are made once).
var interopRepoSets = []resticRepoOptions{
	{Version: 1, Compression: "off", Snapshots: 3},
	{Version: 2, Compression: "auto", Snapshots: 4},
	{Version: 2, Compression: "max", Snapshots: 2},
}

// arcaOnRepo runs arca in-process on a fixture repository (passed as
// flags, so tests can run in parallel) and returns its output and exit code.
func arcaOnRepo(t *testing.T, f *resticFixture, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(f.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	exit = run(append([]string{"-r", f.Repo, "-p", pw}, args...), strings.NewReader(""), &o, &e)
	return o.String(), e.String(), exit
}

// sameAsRestic runs restic and arca with args on f and fails the test when
// exit code, stdout or stderr differ (after norm, when given). It returns
// both stdouts.
func sameAsRestic(t *testing.T, f *resticFixture, norm func(string) string, args ...string) (resticOut, arcaOut string) {
	t.Helper()
	// restic runs while arca does: most of a run is waiting, not CPU
	bin := resticBin(t)
	env := resticTestCommandEnv(t.TempDir(), append(f.Env(), "TZ=UTC"))
	var ro, re []byte
	var rexit int
	var rerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), resticTimeout)
		defer cancel()
		ro, re, rexit, rerr = execRestic(ctx, bin, "", env, args...)
	}()
	ao, ae, aexit := arcaOnRepo(t, f, args...)
	<-done
	if rerr != nil {
		t.Fatal(rerr)
	}
	resticOut, resticErr := string(ro), string(re)
	if norm != nil {
		resticOut, resticErr, ao, ae = norm(resticOut), norm(resticErr), norm(ao), norm(ae)
	}
	if rexit != aexit {
		t.Errorf("%s: exit code: arca %d, restic %d\narca stderr:\n%s\nrestic stderr:\n%s", strings.Join(args, " "), aexit, rexit, ae, resticErr)
	}
	if ao != resticOut {
		t.Errorf("%s: stdout differs\n%s", strings.Join(args, " "), lineDiff(resticOut, ao))
	}
	if ae != resticErr {
		t.Errorf("%s: stderr differs\n--- restic:\n%s\n--- arca:\n%s", strings.Join(args, " "), resticErr, ae)
	}
	return resticOut, ao
}

// lineDiff shows the first differing lines of two outputs.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var x, y string
		if i < len(w) {
			x = w[i]
		}
		if i < len(g) {
			y = g[i]
		}
		if x != y || i >= len(w) || i >= len(g) {
			b.WriteString("line " + itoa(i+1) + ":\n  restic: " + quoteLine(x, i < len(w)) + "\n  arca:   " + quoteLine(y, i < len(g)) + "\n")
			shown++
		}
	}
	b.WriteString("(restic " + itoa(len(w)) + " lines, arca " + itoa(len(g)) + " lines)")
	return b.String()
}

func quoteLine(s string, present bool) string {
	if !present {
		return "<none>"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// jsonLines parses every line of out as a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var msgs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// TestDiffInterop compares arca's diff with restic's on restic-made
// repositories: text, --metadata, --json and subfolders, in both directions.
func TestDiffInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	for _, opts := range interopRepoSets {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			sn := f.Snapshots
			first, last := sn[0].ID, sn[len(sn)-1].ID
			cases := [][]string{
				{"diff", first[:8], last[:8]},
				{"diff", last, first},
				{"diff", "--metadata", first[:10], last},
				{"diff", "--metadata", first, first},
				{"diff", first + ":src/text", last[:8] + ":src/text"},
				{"diff", first + ":src/many", last + ":src"},
				{"diff", "--quiet", first, last},
				{"diff", first, "ffffffff"},
				{"diff", first + ":src/nope", last},
				{"diff", first},
			}
			if len(sn) > 2 {
				cases = append(cases, []string{"diff", "--metadata", sn[1].ID, sn[2].ID})
			}
			if opts.Snapshots == 4 {
				// "latest" is not special for diff: it is taken as an ID prefix
				cases = append(cases, []string{"diff", first, "latest"}, []string{"diff", "--json", "--quiet", sn[2].ID, sn[3].ID})
			}
			for _, args := range cases {
				sameAsRestic(t, f, nil, args...)
			}

			// --json: byte-identical, and the parsed messages equal too
			for _, args := range [][]string{
				{"diff", "--json", first[:8], last},
				{"diff", "--json", "--metadata", last, first + ":src"},
			} {
				ro, ao := sameAsRestic(t, f, nil, args...)
				rm, am := jsonLines(t, ro), jsonLines(t, ao)
				if !reflect.DeepEqual(rm, am) {
					t.Errorf("%v: parsed JSON differs", args)
				}
				if len(am) == 0 || am[len(am)-1]["message_type"] != "statistics" {
					t.Errorf("%v: last message is not the statistics: %v", args, am)
				}
				changes := 0
				for _, m := range am[:max(len(am)-1, 0)] {
					if m["message_type"] != "change" || m["path"] == "" || m["modifier"] == "" {
						t.Errorf("%v: bad change message %v", args, m)
					}
					changes++
				}
				if changes == 0 {
					t.Errorf("%v: no changes reported", args)
				}
			}
		})
	}
}

// TestDiffOutputShape checks arca's diff on its own: the header, the
// markers for generation 0 -> 1 of the fixture tree, and the statistics.
func TestDiffOutputShape(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, interopRepoSets[0])
	a, b := f.Snapshots[0].ID, f.Snapshots[1].ID
	out, stderr, code := arcaOnRepo(t, f, "diff", a, b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "comparing snapshot "+a[:8]+" to "+b[:8]+":\n\n") {
		t.Errorf("header: %q", out[:min(len(out), 80)])
	}
	for _, want := range []string{
		"\n+    /src/gen/\n", "\n+    /src/gen/added-1.txt\n",
		"\nM    /src/text/hello.txt\n", "\nM    /src/random.bin\n",
		"\n-    /src/symlinks/dangling\n", "\n+    /src/symlinks/dangling-2\n",
		"\nFiles:       ", "\n  Added:   ", "\n  Removed: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// metadata changes of the directories appear only with --metadata
	if strings.Contains(out, "\nU    ") {
		t.Errorf("U markers without --metadata")
	}
	out, _, _ = arcaOnRepo(t, f, "diff", "--metadata", a, b)
	if !strings.Contains(out, "\nU    /src/\n") {
		t.Errorf("--metadata: no U for /src/")
	}
}

// TestDiffSpecialNames compares diff output for names JSON must escape
// (restic's encoder escapes <, > and &) and names that are not UTF-8, on a
// small repository made here.
func TestDiffSpecialNames(t *testing.T) {
	resticBin(t)
	t.Parallel()
	dir := t.TempDir()
	f := &resticFixture{Repo: filepath.Join(dir, "repo"), Password: "special names"}
	src := filepath.Join(dir, "src")
	mustRestic(t, f.Env(), "init", "--repository-version", "2")
	if err := cheapenKey(f.Repo, f.Password); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a&b<c>.txt", "one")
	write("keep/x", "x")
	write("bad\xffname", "bad")
	var ids []string
	for i := range 2 {
		if i == 1 {
			write("a&b<c>.txt", "two")
			write("keep/new \"quoted\" & <tagged>", "new")
			if err := os.Remove(filepath.Join(src, "bad\xffname")); err != nil {
				t.Fatal(err)
			}
		}
		out := mustRestic(t, f.Env(), "backup", "--json", "--host", "h", src)
		id, err := backupSnapshotID(out)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, args := range [][]string{
		{"diff", ids[0], ids[1]},
		{"diff", "--json", ids[0], ids[1]},
		{"diff", "--json", "--metadata", ids[1], ids[0]},
	} {
		ro, ao := sameAsRestic(t, f, nil, args...)
		if args[1] == "--json" && (!strings.Contains(ao, `\u0026`) || !reflect.DeepEqual(jsonLines(t, ro), jsonLines(t, ao))) {
			t.Errorf("%v: HTML characters not escaped as restic does:\n%s", args, ao)
		}
	}
}
