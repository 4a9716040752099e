package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// Interop tests for repair packs: restic 0.19.1 and arca repair identical
// copies of a repository with a damaged pack; they must print the same,
// leave the same blobs behind, and restic must judge both results alike.

// runInDir runs restic, or arca as a separate process, with args in the
// working directory dir (repair packs writes its backup copies there) and
// a fresh cache directory.
func runInDir(t *testing.T, program, dir string, env []string, args ...string) cmdResult {
	t.Helper()
	env = resticTestCommandEnv(t.TempDir(), env)
	if program == "restic" {
		ctx, cancel := context.WithTimeout(context.Background(), resticTimeout)
		defer cancel()
		o, e, code, err := execRestic(ctx, resticBin(t), dir, env, args...)
		if err != nil {
			t.Fatal(err)
		}
		return cmdResult{o, e, code}
	}
	cmd := arcaProcess(t, nil, args...)
	cmd.Env = append(env, runAsArcaEnv+"=1")
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Exited():
		return cmdResult{o.Bytes(), e.Bytes(), ee.ExitCode()}
	case err != nil:
		t.Fatalf("arca %s: %v\n%s", strings.Join(args, " "), err, e.Bytes())
	}
	return cmdResult{o.Bytes(), e.Bytes(), 0}
}

// largestPack returns the pack among ids with the most blobs (restic lays
// out packs at random: the first one may hold a single blob).
func largestPack(p checkRepoPacks, ids []model.ID) model.ID {
	best, most := ids[0], 0
	for _, id := range ids {
		for _, pj := range p.files[p.indexOf[id]].Packs {
			if pj.ID == id && len(pj.Blobs) > most {
				best, most = id, len(pj.Blobs)
			}
		}
	}
	return best
}

// packEntry returns the index entry of pack.
func packEntry(t *testing.T, p checkRepoPacks, pack model.ID) index.PackJSON {
	t.Helper()
	for _, pj := range p.files[p.indexOf[pack]].Packs {
		if pj.ID == pack {
			return pj
		}
	}
	t.Fatalf("pack %v is not in the index", pack)
	return index.PackJSON{}
}

// listBlobs returns `restic list blobs` of a repository, sorted.
func listBlobs(t *testing.T, r interopRepo) []string {
	t.Helper()
	res := r.restic(t, "list", "blobs")
	if res.exit != 0 {
		t.Fatalf("restic list blobs: exit %d\n%s", res.exit, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(res.stdout)), "\n")
	slices.Sort(lines)
	return lines
}

func TestRepairPacksInterop(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 4})
	cases := []struct {
		name string
		pick func(p checkRepoPacks) model.ID
		// truncate: cut the pack in its middle blob, which loses that
		// blob and those after it (else only the middle blob is damaged)
		truncate bool
		// healed: after repair snapshots --forget, check --read-data passes
		healed bool
	}{
		{"data pack", func(p checkRepoPacks) model.ID { return largestPack(p, p.data) }, false, true},
		{"tree pack", func(p checkRepoPacks) model.ID { return largestPack(p, p.tree) }, false, false},
		{"truncated data pack", func(p checkRepoPacks) model.ID { return largestPack(p, p.data) }, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resticDir := checkCopy(t, f.Repo)
			p := readCheckRepoPacks(t, resticDir, f.Password)
			pack := c.pick(p)
			entry := packEntry(t, p, pack)
			if len(entry.Blobs) < 2 {
				t.Fatalf("pack %v has %d blobs: want one to damage and one to salvage", pack, len(entry.Blobs))
			}
			lost := []index.BlobJSON{entry.Blobs[len(entry.Blobs)/2]}
			if c.truncate {
				// cut in the middle of the pack's middle blob; blobs that
				// end before survive: they are read one by one after
				// reading the whole range failed
				cut := int64(lost[0].Offset + lost[0].Length/2)
				lost = slices.DeleteFunc(slices.Clone(entry.Blobs), func(b index.BlobJSON) bool { return int64(b.Offset+b.Length) <= cut })
				truncateFile(t, packPath(resticDir, pack), cut)
			} else {
				flipByte(t, packPath(resticDir, pack), int64(lost[0].Offset+lost[0].Length/2))
			}
			damaged, err := os.ReadFile(packPath(resticDir, pack))
			if err != nil {
				t.Fatal(err)
			}
			arcaDir := copyDir(t, resticDir)
			rr, ar := newInteropRepo(t, resticDir, f.Password), newInteropRepo(t, arcaDir, f.Password)
			before := listBlobs(t, ar)

			args := []string{"repair", "packs", pack.String()}
			resticWD, arcaWD := t.TempDir(), t.TempDir()
			want := runInDir(t, "restic", resticWD, resticTestEnv(resticDir, f.Password), args...)
			got := runInDir(t, "arca", arcaWD, resticTestEnv(arcaDir, f.Password), args...)
			if want.exit != 0 || got.exit != 0 {
				t.Fatalf("repair packs: exit restic %d, arca %d\nrestic stderr:\n%s\narca stderr:\n%s", want.exit, got.exit, want.stderr, got.stderr)
			}
			if w, g := normalizeCheckOut(string(want.stdout)), normalizeCheckOut(string(got.stdout)); w != g {
				t.Errorf("repair packs: stdout differs\n%s", lineDiff(w, g))
			}
			if w, g := repairPacksProblems(want.stderr), repairPacksProblems(got.stderr); !slices.Equal(w, g) {
				t.Errorf("repair packs: problems differ\n%s\nrestic stderr:\n%s\narca stderr:\n%s",
					lineDiff(strings.Join(w, "\n"), strings.Join(g, "\n")), want.stderr, got.stderr)
			}
			if !c.truncate {
				// a damaged blob is worded exactly as restic words it
				if !bytes.Equal(want.stderr, got.stderr) {
					t.Errorf("repair packs: stderr differs\nrestic:\n%s\narca:\n%s", want.stderr, got.stderr)
				}
				if !strings.Contains(string(got.stderr), "failed to load blob "+lost[0].ID.String()+": decrypting blob") {
					t.Errorf("arca does not report the damaged blob %v:\n%s", lost[0].ID, got.stderr)
				}
			}
			// the backup copy is the damaged pack as stored
			for _, wd := range []string{resticWD, arcaWD} {
				copy, err := os.ReadFile(filepath.Join(wd, "pack-"+pack.String()))
				if err != nil || !bytes.Equal(copy, damaged) {
					t.Errorf("backup copy in %s: err %v, %d bytes, equal to the pack: %v", wd, err, len(copy), bytes.Equal(copy, damaged))
				}
			}
			if _, err := os.Stat(packPath(arcaDir, pack)); !os.IsNotExist(err) {
				t.Errorf("arca left the damaged pack behind (stat: %v)", err)
			}

			// the same blobs remain: all but the damaged one
			after, afterRestic := listBlobs(t, ar), listBlobs(t, rr)
			if !slices.Equal(after, afterRestic) {
				t.Errorf("blobs after repair differ\n%s", lineDiff(strings.Join(afterRestic, "\n"), strings.Join(after, "\n")))
			}
			wantAfter := slices.DeleteFunc(slices.Clone(before), func(l string) bool {
				return slices.ContainsFunc(lost, func(b index.BlobJSON) bool { return strings.HasSuffix(l, " "+b.ID.String()) })
			})
			if len(wantAfter) != len(before)-len(lost) || !slices.Equal(after, wantAfter) {
				t.Errorf("arca's repair kept %d of %d blobs, want all but the %d lost\n%s", len(after), len(before), len(lost),
					lineDiff(strings.Join(wantAfter, "\n"), strings.Join(after, "\n")))
			}

			// restic judges both repairs alike: the lost blob is missing
			check := []string{"check", "--read-data"}
			afterR, afterA := rr.restic(t, check...), ar.restic(t, check...)
			if afterA.exit == 0 {
				t.Errorf("restic check passes although a blob was lost:\n%s", afterA.stdout)
			}
			compareCheck(t, check[1:], afterR, afterA, true)

			// and repairing the snapshots makes both whole again (arca's
			// repair snapshots on arca's result, restic's on restic's)
			if res := ar.arca(t, "repair", "snapshots", "--forget"); res.exit != 0 {
				t.Fatalf("arca repair snapshots --forget: exit %d\n%s", res.exit, res.stderr)
			}
			if res := rr.restic(t, "repair", "snapshots", "--forget"); res.exit != 0 {
				t.Fatalf("restic repair snapshots --forget: exit %d\n%s", res.exit, res.stderr)
			}
			afterR, afterA = rr.restic(t, check...), ar.restic(t, check...)
			if afterR.exit != afterA.exit {
				t.Errorf("check after repair snapshots: exit restic %d, arca %d\n%s", afterR.exit, afterA.exit, afterA.stderr)
			}
			if c.healed && afterA.exit != 0 {
				t.Errorf("check fails after repair packs and repair snapshots:\n%s", afterA.stderr)
			}
		})
	}
}

// repairPacksRetryReport is the backend's report of a failed download; its
// wording is the backend layer's, not the command's.
var repairPacksRetryReport = regexp.MustCompile(`(?m)^Load\(<data/[0-9a-f]+>, \d+, \d+\) failed: .*\n`)

var repairPacksBlobFailure = regexp.MustCompile(`^(failed to load blob [0-9a-f]{64}): .*$`)

// repairPacksProblems reduces stderr to its lines without the backend's
// reports and without the cause of a blob failure (where it comes from
// the backend), sorted.
func repairPacksProblems(stderr []byte) []string {
	var out []string
	for _, line := range strings.Split(string(repairPacksRetryReport.ReplaceAll(stderr, nil)), "\n") {
		out = append(out, repairPacksBlobFailure.ReplaceAllString(line, "$1"))
	}
	slices.Sort(out)
	return out
}

// TestRepairPacksErrors compares exit codes and messages of failing runs.
func TestRepairPacksErrors(t *testing.T) {
	resticBin(t)
	t.Parallel()
	f := resticRepoFixture(t, resticRepoOptions{Version: 2, Compression: "auto", Snapshots: 4})
	dir := checkCopy(t, f.Repo)
	p := readCheckRepoPacks(t, dir, f.Password)
	existing := p.data[0].String()
	unknown := strings.Repeat("0", 64)
	cases := []struct {
		name     string
		password string
		args     []string
		prepare  func(t *testing.T, wd string)
		exit     int
	}{
		{"no IDs", f.Password, nil, nil, 1},
		{"short ID", f.Password, []string{"abc"}, nil, 1},
		{"not hex", f.Password, []string{strings.Repeat("g", 64)}, nil, 1},
		{"unknown pack", f.Password, []string{unknown}, nil, 1},
		{"wrong password", "wrong", []string{existing}, nil, 12},
		{"backup copy exists", f.Password, []string{existing}, func(t *testing.T, wd string) {
			if err := os.WriteFile(filepath.Join(wd, "pack-"+existing), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// one after the other: the command locks the repository exclusively
			args := append([]string{"repair", "packs"}, c.args...)
			var res [2]cmdResult
			for i, prog := range []string{"restic", "arca"} {
				wd := t.TempDir()
				if c.prepare != nil {
					c.prepare(t, wd)
				}
				res[i] = runInDir(t, prog, wd, resticTestEnv(dir, c.password), args...)
			}
			want, got := res[0], res[1]
			if want.exit != c.exit || got.exit != c.exit {
				t.Errorf("exit code: restic %d, arca %d, want %d", want.exit, got.exit, c.exit)
			}
			if !bytes.Equal(want.stdout, got.stdout) {
				t.Errorf("stdout differs\nrestic:\n%s\narca:\n%s", want.stdout, got.stdout)
			}
			we := repairPacksRetryReport.ReplaceAll(want.stderr, nil)
			ge := repairPacksRetryReport.ReplaceAll(got.stderr, nil)
			if !bytes.Equal(we, ge) {
				t.Errorf("stderr differs\nrestic:\n%s\narca:\n%s", want.stderr, got.stderr)
			}
		})
	}
	// nothing was changed
	if _, err := os.Stat(packPath(dir, p.data[0])); err != nil {
		t.Errorf("pack removed by a failed repair: %v", err)
	}
}
