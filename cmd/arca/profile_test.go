//go:build arcaprofile

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestProfilesWrite runs the profiles of a profiling build and checks that
// each wrote a file of its kind.
func TestProfilesWrite(t *testing.T) {
	for _, tc := range []struct {
		env   string
		magic []byte // how the file starts
	}{
		{"ARCA_TRACE", []byte("go 1.")},
		{"ARCA_CPUPROFILE", []byte{0x1f, 0x8b}}, // gzip'd protobuf
	} {
		t.Run(tc.env, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			t.Setenv("ARCA_TRACE", "")
			t.Setenv("ARCA_CPUPROFILE", "")
			t.Setenv("ARCA_MEMPROFILE", "")
			t.Setenv(tc.env, path)
			stop := startProfiles()
			sum := 0
			for i := range 1_000_000 {
				sum += i * i
			}
			stop()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, tc.magic) {
				t.Fatalf("%s wrote %d bytes starting %q, want %q", tc.env, len(b), b[:min(len(b), 8)], tc.magic)
			}
		})
	}
}

// TestProfilesTogether: a CPU profile and a trace asked for at once are
// both written, the trace still a trace.
func TestProfilesTogether(t *testing.T) {
	dir := t.TempDir()
	cpu, tr := filepath.Join(dir, "cpu"), filepath.Join(dir, "trace")
	t.Setenv("ARCA_MEMPROFILE", "")
	t.Setenv("ARCA_CPUPROFILE", cpu)
	t.Setenv("ARCA_TRACE", tr)
	stop := startProfiles()
	sum := 0
	for i := range 1_000_000 {
		sum += i * i
	}
	stop()
	for path, magic := range map[string][]byte{cpu: {0x1f, 0x8b}, tr: []byte("go 1.")} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, magic) {
			t.Errorf("%s: %d bytes starting %q, want %q", filepath.Base(path), len(b), b[:min(len(b), 8)], magic)
		}
	}
}
