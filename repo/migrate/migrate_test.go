package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/faulty"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/migrate"
)

var fastKDF = crypto.Params{N: 1024, R: 8, P: 1}

const password = "migrate test"

// newV1 creates a version 1 repository in be and returns it with its raw config.
func newV1(t *testing.T, be backend.Backend) (*repo.Repository, []byte) {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Create(ctx, be, password, repo.CreateOptions{Version: 1, KDFParams: &fastKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	raw := loadConfig(t, be)
	return r, raw
}

func loadConfig(t *testing.T, be backend.Backend) []byte {
	t.Helper()
	raw, err := backend.LoadAll(context.Background(), be, backend.Handle{Type: backend.ConfigFile})
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return raw
}

func reopen(t *testing.T, be backend.Backend) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), be, password, repo.OpenOptions{})
	if err != nil {
		t.Fatalf("open after migration: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestFind(t *testing.T) {
	if m := migrate.Find("upgrade_repo_v2"); m == nil || m.Description() != "upgrade a repository to version 2" || !m.NeedsRepoCheck() {
		t.Errorf("Find(upgrade_repo_v2) = %v", m)
	}
	// restic 0.19 no longer has the S3 layout migrations
	for _, name := range []string{"s3_layout", "upgrade_repo_v3", ""} {
		if m := migrate.Find(name); m != nil {
			t.Errorf("Find(%q) = %v, want nil", name, m.Name())
		}
	}
	if n := len(migrate.All()); n != 1 {
		t.Errorf("%d migrations, want 1", n)
	}
}

// upgrade runs the migration on r with its backup directory under a
// fresh temporary directory, which it returns.
func upgrade(t *testing.T, r *repo.Repository) (string, error) {
	t.Helper()
	tmp := t.TempDir()
	m := &migrate.UpgradeRepoV2{TempDir: tmp}
	return tmp, m.Apply(context.Background(), r)
}

func TestUpgradeRepoV2(t *testing.T) {
	for _, atomic := range []bool{true, false} {
		name := "atomic-replace"
		if !atomic {
			name = "remove-first"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			be := faulty.Wrap(mem.NewWithProperties(backend.Properties{Connections: 2, HasAtomicReplace: atomic}))
			r, _ := newV1(t, be)
			m := migrate.Find("upgrade_repo_v2")
			ok, reason, err := m.Check(ctx, r)
			if !ok || reason != "" || err != nil {
				t.Fatalf("Check on version 1: %v %q %v", ok, reason, err)
			}
			removes := be.Calls(faulty.OpRemove)
			tmp, err := upgrade(t, r)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			wantRemoves := removes
			if !atomic {
				wantRemoves++
			}
			if got := be.Calls(faulty.OpRemove); got != wantRemoves {
				t.Errorf("%d removals, want %d", got, wantRemoves)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("the backup of the old config was not cleaned up: %v", left)
			}

			r2 := reopen(t, be)
			old, now := r.Config(), r2.Config()
			if now.Version != 2 || now.ID != old.ID || now.ChunkerPolynomial != old.ChunkerPolynomial {
				t.Errorf("config after upgrade %+v, before %+v", now, old)
			}
			ok, reason, err = m.Check(ctx, r2)
			if ok || reason != "repository is already upgraded to version 2" || err != nil {
				t.Errorf("Check on version 2: %v %q %v", ok, reason, err)
			}
			if _, err := upgrade(t, r2); err == nil || err.Error() != "repository has version 2, only upgrades from version 1 are supported" {
				t.Errorf("Apply on version 2: %v", err)
			}
		})
	}
}

// TestUpgradeRepoV2SaveFails: when the new config cannot be written (here
// after part of it was), the old one is put back byte for byte and a copy
// stays in the backup file the error names.
func TestUpgradeRepoV2SaveFails(t *testing.T) {
	be := faulty.Wrap(mem.New())
	r, raw := newV1(t, be)
	be.Inject(faulty.Fault{Op: faulty.OpSave, Type: backend.ConfigFile, Count: 1, After: 10})
	_, err := upgrade(t, r)
	var uerr *migrate.UpgradeError
	if !errors.As(err, &uerr) || !errors.Is(err, faulty.ErrInjected) || uerr.RestoreErr != nil {
		t.Fatalf("Apply: %v, want an UpgradeError for the injected fault", err)
	}
	if !strings.Contains(err.Error(), "re-uploaded old config was successful, there is a backup of the config file in "+uerr.BackupFile) {
		t.Errorf("error text: %v", err)
	}
	if got := loadConfig(t, be); !bytes.Equal(got, raw) {
		t.Errorf("config after the failed upgrade differs from the old one")
	}
	if kept, err := os.ReadFile(uerr.BackupFile); err != nil || !bytes.Equal(kept, raw) {
		t.Errorf("backup %s: %v (same as the old config: %v)", uerr.BackupFile, err, bytes.Equal(kept, raw))
	}
	if v := reopen(t, be).Config().Version; v != 1 {
		t.Errorf("version %d after the failed upgrade, want 1", v)
	}
}

// TestUpgradeRepoV2RestoreFails: when putting the old config back fails
// too, the error says so and names the backup, which holds the old config.
func TestUpgradeRepoV2RestoreFails(t *testing.T) {
	be := faulty.Wrap(mem.New())
	r, raw := newV1(t, be)
	restoreErr := errors.New("second fault")
	be.Inject(faulty.Fault{Op: faulty.OpSave, Type: backend.ConfigFile, Count: 1})
	be.Inject(faulty.Fault{Op: faulty.OpSave, Type: backend.ConfigFile, Count: 1, Err: restoreErr})
	_, err := upgrade(t, r)
	var uerr *migrate.UpgradeError
	if !errors.As(err, &uerr) || !errors.Is(uerr.RestoreErr, restoreErr) {
		t.Fatalf("Apply: %v, want an UpgradeError with both faults", err)
	}
	if !strings.Contains(err.Error(), "re-uploading old config filed failed as well (") || filepath.Base(uerr.BackupFile) != "config" {
		t.Errorf("error text: %v", err)
	}
	if kept, err := os.ReadFile(uerr.BackupFile); err != nil || !bytes.Equal(kept, raw) {
		t.Errorf("backup %s: %v", uerr.BackupFile, err)
	}
}

// TestUpgradeRepoV2LoadFails: nothing is written when the old config
// cannot be read.
func TestUpgradeRepoV2LoadFails(t *testing.T) {
	be := faulty.Wrap(mem.New())
	r, raw := newV1(t, be)
	be.Inject(faulty.Fault{Op: faulty.OpLoad, Type: backend.ConfigFile, Count: 1})
	saves := be.Calls(faulty.OpSave)
	_, err := upgrade(t, r)
	if err == nil || !strings.HasPrefix(err.Error(), "load config file failed: ") {
		t.Fatalf("Apply: %v", err)
	}
	if be.Calls(faulty.OpSave) != saves || !bytes.Equal(loadConfig(t, be), raw) {
		t.Errorf("the config was touched")
	}
}
