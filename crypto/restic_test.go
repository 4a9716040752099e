package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openResticRepo opens keys/* of a restic repository at dir with password,
// checks the key file's name is the SHA-256 of its bytes and that it survives
// a parse/marshal round trip unchanged, and returns the master key.
func openResticRepo(t *testing.T, dir, password string) *Key {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("want one key file, have %d", len(entries))
	}
	name := entries[0].Name()
	raw, err := os.ReadFile(filepath.Join(dir, "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != name {
		t.Fatalf("key file name %s is not its SHA-256", name)
	}
	kf, err := ParseKeyFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := kf.Marshal(); !bytes.Equal(again, raw) {
		t.Fatalf("re-marshalled key file differs from restic's:\n%s\n%s", again, raw)
	}
	master, err := kf.Open(password)
	if err != nil {
		t.Fatalf("opening restic's key file: %v", err)
	}

	// restic's sealed master key JSON is byte-identical to ours.
	user, err := KDF(kf.Params(), kf.Salt, password)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := user.Open(nil, kf.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ours, _ := json.Marshal(master); !bytes.Equal(ours, plain) {
		t.Fatalf("master key JSON differs:\nrestic %s\narca   %s", plain, ours)
	}

	if _, err := kf.Open(password + "x"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	return master
}

// checkResticConfig decrypts dir/config (IV || ct || MAC, plain JSON) with
// master and returns its parsed fields.
func checkResticConfig(t *testing.T, dir string, master *Key) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := master.Open(nil, raw)
	if err != nil {
		t.Fatalf("opening restic's config: %v", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(plain, &cfg); err != nil {
		t.Fatalf("config is not JSON: %v\n%q", err, plain)
	}
	if poly, _ := cfg["chunker_polynomial"].(string); poly == "" {
		t.Fatalf("config lacks chunker_polynomial: %s", plain)
	}
	if v, _ := cfg["version"].(float64); v != 2 {
		t.Fatalf("config version %v, want 2", cfg["version"])
	}
	// Tampering is detected on real restic data too.
	raw[len(raw)/2] ^= 0x10
	if _, err := master.Open(nil, raw); err != ErrUnauthenticated {
		t.Fatalf("tampered config: %v", err)
	}
	return cfg
}

// TestResticGolden uses a repository made by restic 0.19.1 `init`
// (calibrated scrypt N=32768 r=8 p=6), stored under testdata.
func TestResticGolden(t *testing.T) {
	dir := filepath.Join("testdata", "restic-0.19.1")
	pw, err := os.ReadFile(filepath.Join(dir, "password"))
	if err != nil {
		t.Fatal(err)
	}
	master := openResticRepo(t, dir, string(pw))
	cfg := checkResticConfig(t, dir, master)
	if cfg["id"] != "36d3bd550362155997cfcbad1d5bb79266686162466628b76940b4d82f69cbab" ||
		cfg["chunker_polynomial"] != "389387265d9335" {
		t.Fatalf("unexpected config %v", cfg)
	}
}

// resticBin returns the restic binary from $RESTIC_BIN; it skips the test
// when unset outside CI and fails inside CI.
func resticBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("RESTIC_BIN")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RESTIC_BIN not set (required when CI=true)")
		}
		t.Skip("RESTIC_BIN not set")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("RESTIC_BIN: %v", err)
	}
	return bin
}

func runRestic(t *testing.T, bin, repo, password string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--repo", repo, "--no-cache"}, args...)...)
	cmd.Env = append(os.Environ(),
		"RESTIC_PASSWORD="+password,
		"RESTIC_CACHE_DIR="+t.TempDir(),
		"HOME="+t.TempDir(),
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func TestResticBinaryInterop(t *testing.T) {
	bin := resticBin(t)
	repo := filepath.Join(t.TempDir(), "repo")
	const password = "restic interop password"
	runRestic(t, bin, repo, password, "init")

	master := openResticRepo(t, repo, password)
	cfg := checkResticConfig(t, repo, master)

	// The other direction, briefly: a key file arca writes for the same
	// master key lets restic open the repository with the new password.
	const password2 = "second password from arca"
	kf, err := NewKeyFile(master, password2, testParams, "arca-user", "arca-host", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := kf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if err := os.WriteFile(filepath.Join(repo, "keys", hex.EncodeToString(sum[:])), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runRestic(t, bin, repo, password2, "cat", "config")
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil || got["id"] != cfg["id"] {
		t.Fatalf("restic cat config with arca's key: %v\n%s", err, out)
	}
	out = runRestic(t, bin, repo, password2, "key", "list", "--json")
	if !bytes.Contains(out, []byte(`"current":true,"id":"`+hex.EncodeToString(sum[:])+`","userName":"arca-user","hostName":"arca-host"`)) {
		t.Fatalf("restic key list does not show arca's key:\n%s", out)
	}
}
