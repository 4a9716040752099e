package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// fastKDF keeps key derivation cheap in tests.
var fastKDF = crypto.Params{N: 1024, R: 8, P: 1}

func createRepo(t *testing.T, be backend.Backend, password string, opts repo.CreateOptions) *repo.Repository {
	t.Helper()
	if opts.KDFParams == nil {
		opts.KDFParams = &fastKDF
	}
	r, err := repo.Create(context.Background(), be, password, opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// rawFile returns the stored bytes of one file.
func rawFile(t *testing.T, be backend.Backend, h backend.Handle) []byte {
	t.Helper()
	buf, err := backend.LoadAll(context.Background(), be, h)
	if err != nil {
		t.Fatalf("load %v: %v", h, err)
	}
	return buf
}

func keyNames(t *testing.T, be backend.Backend) []string {
	t.Helper()
	var names []string
	if err := be.List(context.Background(), backend.KeyFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	for _, version := range []uint{1, 2} {
		be := mem.New()
		r := createRepo(t, be, "secret", repo.CreateOptions{Version: version, Username: "alice", Hostname: "box"})

		cfg := r.Config()
		if cfg.Version != version {
			t.Errorf("v%d: version %d", version, cfg.Version)
		}
		if len(cfg.ID) != 64 {
			t.Errorf("v%d: config ID %q is not 64 hex digits", version, cfg.ID)
		}
		if cfg.ChunkerPolynomial.Deg() != 53 || !cfg.ChunkerPolynomial.Irreducible() {
			t.Errorf("v%d: polynomial %v: degree %d, irreducible %v", version, cfg.ChunkerPolynomial, cfg.ChunkerPolynomial.Deg(), cfg.ChunkerPolynomial.Irreducible())
		}

		// exactly one key file, named by the SHA-256 of its bytes, with the
		// given parameters and owner, which is the key the repository uses
		names := keyNames(t, be)
		if len(names) != 1 {
			t.Fatalf("v%d: %d key files, want 1", version, len(names))
		}
		raw := rawFile(t, be, backend.Handle{Type: backend.KeyFile, Name: names[0]})
		if model.Hash(raw).String() != names[0] {
			t.Errorf("v%d: key file %s is not named by its hash", version, names[0])
		}
		if r.KeyID().String() != names[0] {
			t.Errorf("v%d: KeyID %s, key file %s", version, r.KeyID(), names[0])
		}
		var kf map[string]any
		if err := json.Unmarshal(raw, &kf); err != nil {
			t.Fatalf("v%d: key file is not JSON: %v", version, err)
		}
		for k, want := range map[string]any{"kdf": "scrypt", "N": 1024.0, "r": 8.0, "p": 1.0, "username": "alice", "hostname": "box"} {
			if kf[k] != want {
				t.Errorf("v%d: key file %s = %v, want %v", version, k, kf[k], want)
			}
		}

		// the config is sealed, not compressed, and holds the same values
		sealed := rawFile(t, be, backend.Handle{Type: backend.ConfigFile})
		plain, err := r.Key().Open(nil, sealed)
		if err != nil {
			t.Fatalf("v%d: open config: %v", version, err)
		}
		if plain[0] != '{' {
			t.Errorf("v%d: config plaintext starts with %#x, want plain JSON", version, plain[0])
		}
		var got model.Config
		if err := json.Unmarshal(plain, &got); err != nil || got != cfg {
			t.Errorf("v%d: stored config %+v (%v), want %+v", version, got, err, cfg)
		}

		// it opens with the password, and only with it
		r2, err := repo.Open(ctx, be, "secret", repo.OpenOptions{})
		if err != nil {
			t.Fatalf("v%d: Open: %v", version, err)
		}
		if r2.Config() != cfg || r2.KeyID() != r.KeyID() {
			t.Errorf("v%d: reopened config %+v key %s", version, r2.Config(), r2.KeyID())
		}
		r2.Close()
		if _, err := repo.Open(ctx, be, "wrong", repo.OpenOptions{}); !errors.Is(err, repo.ErrWrongPassword) {
			t.Errorf("v%d: Open with a wrong password: %v", version, err)
		}
	}
}

func TestCreateDefaults(t *testing.T) {
	r := createRepo(t, mem.New(), "pw", repo.CreateOptions{})
	if r.Config().Version != model.StableRepoVersion {
		t.Errorf("default version %d, want %d", r.Config().Version, model.StableRepoVersion)
	}
	raw := rawFile(t, r.Backend(), backend.Handle{Type: backend.KeyFile, Name: r.KeyID().String()})
	kf, err := crypto.ParseKeyFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if kf.Hostname != host || kf.Username == "" {
		t.Errorf("key file owner %q@%q, want the current user at %q", kf.Username, kf.Hostname, host)
	}
}

func TestCreateRandomAndCopiedPolynomial(t *testing.T) {
	a := createRepo(t, mem.New(), "pw", repo.CreateOptions{})
	b := createRepo(t, mem.New(), "pw", repo.CreateOptions{})
	if a.Config().ChunkerPolynomial == b.Config().ChunkerPolynomial {
		t.Errorf("two repositories got the same polynomial %v", a.Config().ChunkerPolynomial)
	}
	if a.Config().ID == b.Config().ID {
		t.Errorf("two repositories got the same ID %s", a.Config().ID)
	}
	pol := a.Config().ChunkerPolynomial
	c := createRepo(t, mem.New(), "pw", repo.CreateOptions{ChunkerPolynomial: &pol})
	if c.Config().ChunkerPolynomial != pol {
		t.Errorf("copied polynomial %v, want %v", c.Config().ChunkerPolynomial, pol)
	}
	bad := chunker.Pol(1<<53 | 1<<1) // x^53 + x is divisible by x
	_, err := repo.Create(context.Background(), mem.New(), "pw", repo.CreateOptions{ChunkerPolynomial: &bad, KDFParams: &fastKDF})
	if err == nil {
		t.Error("Create accepted a reducible polynomial")
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	ctx := context.Background()
	opts := repo.CreateOptions{KDFParams: &fastKDF}
	check := func(name string, be backend.Backend, wantBackend bool, want error) {
		t.Helper()
		before := keyNames(t, be)
		_, err := repo.Create(ctx, be, "pw", opts)
		var ce *repo.CreateError
		if !errors.As(err, &ce) || ce.Backend != wantBackend || !errors.Is(err, want) {
			t.Fatalf("%s: Create error %v, want a CreateError{Backend: %v} wrapping %q", name, err, wantBackend, want)
		}
		if ce.Err.Error() != want.Error() {
			t.Errorf("%s: cause %q, want restic's %q", name, ce.Err, want)
		}
		if after := keyNames(t, be); len(after) != len(before) {
			t.Errorf("%s: key files %d before, %d after", name, len(before), len(after))
		}
	}

	be := mem.New()
	r := createRepo(t, be, "pw", repo.CreateOptions{})
	cfgBefore := rawFile(t, be, backend.Handle{Type: backend.ConfigFile})
	check("existing repository", be, true, repo.ErrConfigExists)
	if string(rawFile(t, be, backend.Handle{Type: backend.ConfigFile})) != string(cfgBefore) {
		t.Error("config changed by the refused Create")
	}

	// a repository that lost its config (and maybe its keys) to a retention policy
	keysOnly := mem.New()
	saveRaw(t, keysOnly, backend.Handle{Type: backend.KeyFile, Name: r.KeyID().String()},
		rawFile(t, be, backend.Handle{Type: backend.KeyFile, Name: r.KeyID().String()}))
	check("keys without config", keysOnly, false, repo.ErrHasKeys)

	snapsOnly := mem.New()
	snap := []byte("sealed snapshot")
	saveRaw(t, snapsOnly, backend.Handle{Type: backend.SnapshotFile, Name: model.Hash(snap).String()}, snap)
	check("snapshots without config", snapsOnly, false, repo.ErrHasSnapshots)

	for _, v := range []uint{3, 100} {
		_, err := repo.Create(ctx, mem.New(), "pw", repo.CreateOptions{Version: v, KDFParams: &fastKDF})
		if err == nil || !strings.Contains(err.Error(), "too high") {
			t.Errorf("version %d: %v", v, err)
		}
	}
}

func saveRaw(t *testing.T, be backend.Backend, h backend.Handle, buf []byte) {
	t.Helper()
	if err := be.Save(context.Background(), h, backend.NewByteReader(buf)); err != nil {
		t.Fatal(err)
	}
}

// failingBackend fails saving one file type.
type failingBackend struct {
	backend.Backend
	failType backend.FileType
}

var errInjected = errors.New("injected save failure")

func (b *failingBackend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type == b.failType {
		return errInjected
	}
	return b.Backend.Save(ctx, h, rd)
}

// TestCreateWriteOrder: the key file is written before the config, so a
// failure leaves no config behind (the location can be initialised again
// only after the stray key is removed, as with restic).
func TestCreateWriteOrder(t *testing.T) {
	ctx := context.Background()
	inner := mem.New()
	_, err := repo.Create(ctx, &failingBackend{Backend: inner, failType: backend.KeyFile}, "pw", repo.CreateOptions{KDFParams: &fastKDF})
	if !errors.Is(err, errInjected) {
		t.Fatalf("key save failure: %v", err)
	}
	if _, err := inner.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); !backend.IsNotExist(err) {
		t.Errorf("config written although the key could not be saved (%v)", err)
	}

	inner = mem.New()
	_, err = repo.Create(ctx, &failingBackend{Backend: inner, failType: backend.ConfigFile}, "pw", repo.CreateOptions{KDFParams: &fastKDF})
	var ce *repo.CreateError
	if !errors.Is(err, errInjected) || !errors.As(err, &ce) || ce.Backend {
		t.Fatalf("config save failure: %v", err)
	}
	if n := len(keyNames(t, inner)); n != 1 {
		t.Errorf("%d key files after a failed config save, want the 1 written first", n)
	}
}

// TestCreateReadByRestic: restic opens a repository arca created on disk,
// reports the same config and key, and checks it clean.
func TestCreateReadByRestic(t *testing.T) {
	bin := resticBinary(t)
	dir := filepath.Join(t.TempDir(), "repo")
	be := local.New(dir)
	r := createRepo(t, be, testPassword, repo.CreateOptions{Version: 1, Username: "u", Hostname: "h"})

	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-r", dir, "--no-cache"}, args...)...)
		cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+testPassword)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("restic %v: %v\n%s", args, err, ee.Stderr)
			}
			t.Fatalf("restic %v: %v", args, err)
		}
		return out
	}
	var cfg model.Config
	if err := json.Unmarshal(run("cat", "config"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg != r.Config() {
		t.Errorf("restic reads config %+v, arca wrote %+v", cfg, r.Config())
	}
	var keys []struct {
		Current  bool   `json:"current"`
		ID       string `json:"id"`
		UserName string `json:"userName"`
		HostName string `json:"hostName"`
	}
	if err := json.Unmarshal(run("key", "list", "--json"), &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].Current || keys[0].ID != r.KeyID().String() || keys[0].UserName != "u" || keys[0].HostName != "h" {
		t.Errorf("restic key list: %+v", keys)
	}
	run("check")
}
