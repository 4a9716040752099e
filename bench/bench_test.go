package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestHarnessTinyCorpus runs the whole harness on a tiny corpus and checks
// that the report has a sample from each program for each round. It makes
// no timing assertion.
func TestHarnessTinyCorpus(t *testing.T) {
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
	if err := os.Chdir(".."); err != nil { // build ./cmd/arca from the module root
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir("bench") })
	out := t.TempDir()
	if err := run([]string{"-restic", bin, "-size", "3MiB", "-rounds", "2", "-work", t.TempDir(), "-out", out, "restore"}); err != nil {
		t.Fatal(err)
	}
	buf, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(buf, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Corpus.Bytes < 3<<20-1 || rep.Corpus.Files < 2 {
		t.Fatalf("corpus too small: %+v", rep.Corpus)
	}
	if len(rep.Results) != 1 || rep.Results[0].Name != "restore" {
		t.Fatalf("results: %+v", rep.Results)
	}
	for _, p := range []string{"arca", "restic"} {
		s := rep.Results[0].Samples[p]
		if len(s) != 2 {
			t.Fatalf("%s: %d samples, want 2", p, len(s))
		}
		for _, x := range s {
			if x.Wall <= 0 || x.MaxRSS <= 0 {
				t.Fatalf("%s: sample not measured: %+v", p, x)
			}
		}
	}
	if md, err := os.ReadFile(filepath.Join(out, "report.md")); err != nil || len(md) == 0 {
		t.Fatalf("report.md missing: %v", err)
	}
}

func TestGenerateMixedIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	sa, err := generateMixed(a, 2<<20, 7)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := generateMixed(b, 2<<20, 7)
	if sa != sb || sa.Bytes != 2<<20 {
		t.Fatalf("stats differ or wrong size: %+v %+v", sa, sb)
	}
	err = filepath.Walk(a, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || string(x) != string(y) {
			t.Fatalf("%s differs between runs", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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
