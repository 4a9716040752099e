package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecallKey(t *testing.T) {
	base := t.TempDir()
	const loc = "sftp:host:/srv/repo"
	if _, ok := RecallKey(base, loc); ok {
		t.Fatal("a key recalled from an empty cache")
	}
	older, err := Open(base, strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := Open(base, strings.Repeat("b", 64))
	if err != nil {
		t.Fatal(err)
	}
	keyA, keyB := []byte(`{"kdf":"scrypt","a":1}`), []byte(`{"kdf":"scrypt","b":2}`)
	if err := older.RememberKey(loc, keyA); err != nil {
		t.Fatal(err)
	}
	if got, ok := RecallKey(base, loc); !ok || string(got) != string(keyA) {
		t.Fatalf("recalled %q, %v; want %q", got, ok, keyA)
	}
	if _, ok := RecallKey(base, loc+"/other"); ok {
		t.Error("a key recalled for another location")
	}

	// a second repository's cache remembers the location later: its memo wins
	if err := newer.RememberKey(loc, keyB); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	memo := filepath.Join(older.Dir(), locationsDir, locationName(loc))
	if err := os.Chtimes(memo, past, past); err != nil {
		t.Fatal(err)
	}
	if got, ok := RecallKey(base, loc); !ok || string(got) != string(keyB) {
		t.Fatalf("recalled %q, %v; want the newer memo's %q", got, ok, keyB)
	}

	// a kept key file whose content does not match its name is not used
	keyFiles, err := os.ReadDir(filepath.Join(newer.Dir(), keysDir))
	if err != nil || len(keyFiles) != 1 {
		t.Fatalf("key files kept: %v, %v", keyFiles, err)
	}
	if err := os.WriteFile(filepath.Join(newer.Dir(), keysDir, keyFiles[0].Name()), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, ok := RecallKey(base, loc); ok {
		t.Errorf("recalled %q from a damaged key file", got)
	}

	// remembering another key for the location drops the one no location names
	if err := newer.RememberKey(loc, keyA); err != nil {
		t.Fatal(err)
	}
	if got, ok := RecallKey(base, loc); !ok || string(got) != string(keyA) {
		t.Fatalf("recalled %q, %v; want %q", got, ok, keyA)
	}
	left, err := os.ReadDir(filepath.Join(newer.Dir(), keysDir))
	if err != nil || len(left) != 1 || left[0].Name() == keyFiles[0].Name() {
		t.Errorf("key files kept after the memo changed: %v, %v", left, err)
	}
	for _, k := range left {
		if fi, err := os.Stat(filepath.Join(newer.Dir(), keysDir, k.Name())); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("kept key file: %v, %v; want mode 0600", fi, err)
		}
	}
}
