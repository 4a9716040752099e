package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corruptFile flips one byte in the middle of a file.
func corruptFile(t testing.TB, p string) {
	t.Helper()
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	buf, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	buf[len(buf)/2] ^= 0xff
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestListInterop(t *testing.T) {
	resticBin(t)
	for _, opts := range fixtureOptionSets[:2] {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			r := newInteropRepo(t, f.Repo, f.Password)
			for _, kind := range []string{"blobs", "packs", "index", "snapshots", "keys", "locks"} {
				args := []string{"list", kind}
				want, got := r.both(t, args...)
				if want.exit != 0 {
					t.Fatalf("restic %v: %s", args, want.stderr)
				}
				compareNormalized(t, args, want, got, sortLines)
				if kind != "locks" && len(got.stdout) == 0 {
					t.Errorf("%v: nothing listed", args)
				}
			}
			if opts.Version != 1 {
				return
			}
			for _, args := range [][]string{
				{"list"},
				{"list", "foo"},
				{"list", "packs", "index"},
				{"--no-lock", "list", "keys"},
				{"-q", "list", "snapshots"},
			} {
				want, got := r.both(t, args...)
				compareNormalized(t, args, want, got, sortLines)
			}
		})
	}
}

// keyListJSON is one entry of `key list --json`.
type keyListJSON struct {
	Current  bool   `json:"current"`
	ID       string `json:"id"`
	UserName string `json:"userName"`
	HostName string `json:"hostName"`
	Created  string `json:"created"`
}

func TestKeyListInterop(t *testing.T) {
	t.Parallel()
	resticBin(t)
	f := resticRepoFixture(t, fixtureOptionSets[0])
	one := newInteropRepo(t, f.Repo, f.Password)
	for _, args := range [][]string{{"key", "list"}, {"key", "list", "--json"}, {"key", "list", "extra"}} {
		want, got := one.both(t, args...)
		compareExact(t, args, want, got)
	}

	// a second key, added by restic with another user and host; opened
	// with it, it is the current one
	src := makeMultiPathRepo(t)
	two := newInteropRepo(t, copyDir(t, src.repo), src.password)
	pw2 := filepath.Join(t.TempDir(), "pw2")
	if err := os.WriteFile(pw2, []byte("second password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := two.restic(t, "key", "add", "--new-password-file", pw2, "--user", "someone", "--host", "elsewhere"); out.exit != 0 {
		t.Fatalf("restic key add: %s", out.stderr)
	}
	second := newInteropRepo(t, two.repo, "second password")
	for _, r := range []interopRepo{two, second} {
		// restic lists keys in random order: compare as sets
		args := []string{"key", "list", "--json"}
		want, got := r.both(t, args...)
		compareNormalized(t, args, want, got, func(b []byte) []byte {
			var keys []keyListJSON
			if err := json.Unmarshal(b, &keys); err != nil {
				return append([]byte("invalid JSON: "), b...)
			}
			slices.SortFunc(keys, func(a, b keyListJSON) int { return strings.Compare(a.ID, b.ID) })
			out, _ := json.Marshal(keys)
			return out
		})
		var keys []keyListJSON
		if err := json.Unmarshal(got.stdout, &keys); err != nil {
			t.Fatal(err)
		}
		current := 0
		for _, k := range keys {
			if k.Current {
				current++
				if (r.password == "second password") != (k.UserName == "someone" && k.HostName == "elsewhere") {
					t.Errorf("key %s (%s@%s) marked current for password %q", k.ID, k.UserName, k.HostName, r.password)
				}
			}
		}
		if len(keys) != 2 || current != 1 {
			t.Errorf("key list: %d keys, %d current; want 2 and 1", len(keys), current)
		}

		args = []string{"key", "list"}
		want, got = r.both(t, args...)
		compareNormalized(t, args, want, got, sortLines)
		if !strings.Contains(string(got.stdout), "\n*") {
			t.Errorf("key list marks no current key:\n%s", got.stdout)
		}
	}
}
