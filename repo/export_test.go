package repo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
)

// CheapenKey (tests only) replaces the only key file with one for the same master key
// and password but cheap scrypt parameters, so tests open the repository
// in milliseconds; restic accepts any valid parameters.
func CheapenKey(t testing.TB, repoDir, password string) {
	t.Helper()
	keys, err := os.ReadDir(filepath.Join(repoDir, "keys"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("cheapen key: want one key file: %v", err)
	}
	old := filepath.Join(repoDir, "keys", keys[0].Name())
	buf, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := crypto.ParseKeyFile(buf)
	if err != nil {
		t.Fatal(err)
	}
	master, err := kf.Open(password)
	if err != nil {
		t.Fatal(err)
	}
	cheap, err := crypto.NewKeyFile(master, password, crypto.Params{N: 1 << 10, R: 8, P: 1}, kf.Username, kf.Hostname, kf.Created)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cheap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repoDir, "keys", model.Hash(out).String()), out, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
}
