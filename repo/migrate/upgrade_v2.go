package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// UpgradeRepoV2 upgrades a version 1 repository to version 2 (compression,
// compressed index and snapshot files). Only the config file changes: every
// version 1 file is also valid in version 2. The old config is first saved
// to a file in a new temporary directory; when writing the new one fails,
// the old one is put back, and the error names the saved copy.
type UpgradeRepoV2 struct {
	// TempDir is where the directory for the saved config is made ("":
	// the system's temporary directory).
	TempDir string
}

// Name implements Migration.
func (*UpgradeRepoV2) Name() string { return "upgrade_repo_v2" }

// Description implements Migration.
func (*UpgradeRepoV2) Description() string { return "upgrade a repository to version 2" }

// NeedsRepoCheck implements Migration: the repository is checked first.
func (*UpgradeRepoV2) NeedsRepoCheck() bool { return true }

// Check implements Migration: it applies to version 1 repositories.
func (*UpgradeRepoV2) Check(_ context.Context, r *repo.Repository) (bool, string, error) {
	if v := r.Config().Version; v != 1 {
		return false, fmt.Sprintf("repository is already upgraded to version %v", v), nil
	}
	return true, "", nil
}

// backupDirPrefix names the temporary directory holding the old config
// (restic's name, so users find it where restic's documentation says).
const backupDirPrefix = "restic-migrate-upgrade-repo-v2-"

// Apply implements Migration.
func (m *UpgradeRepoV2) Apply(ctx context.Context, r *repo.Repository) error {
	if v := r.Config().Version; v != 1 {
		return fmt.Errorf("repository has version %v, only upgrades from version 1 are supported", v)
	}
	old, err := r.LoadRaw(ctx, backend.ConfigFile, model.ID{})
	if err != nil {
		return fmt.Errorf("load config file failed: %w", err)
	}
	dir, err := os.MkdirTemp(m.TempDir, backupDirPrefix)
	if err != nil {
		return fmt.Errorf("create temp dir failed: %w", err)
	}
	backupFile := filepath.Join(dir, "config")
	if err := os.WriteFile(backupFile, old, 0o600); err != nil {
		return fmt.Errorf("write config file backup to %v failed: %w", dir, err)
	}

	if err := writeV2Config(ctx, r); err != nil {
		uerr := &UpgradeError{Err: err, BackupFile: backupFile}
		h := backend.Handle{Type: backend.ConfigFile}
		be := r.Backend()
		_ = be.Remove(ctx, h) // a partial new file may be there, or none
		if rerr := be.Save(ctx, h, backend.NewByteReader(old)); rerr != nil {
			uerr.RestoreErr = rerr
		}
		return uerr
	}
	_ = os.Remove(backupFile)
	_ = os.Remove(dir)
	return nil
}

// writeV2Config replaces the config by one with version 2 and reads it
// back to make sure the repository opens with it.
func writeV2Config(ctx context.Context, r *repo.Repository) error {
	be := r.Backend()
	h := backend.Handle{Type: backend.ConfigFile}
	if !be.Properties().HasAtomicReplace {
		if err := be.Remove(ctx, h); err != nil {
			return fmt.Errorf("remove config failed: %w", err)
		}
	}
	cfg := r.Config()
	cfg.Version = 2
	if err := r.ReplaceConfig(ctx, cfg); err != nil {
		return fmt.Errorf("save new config file failed: %w", err)
	}
	plain, err := r.LoadUnpacked(ctx, backend.ConfigFile, model.ID{})
	if err != nil {
		return fmt.Errorf("read new config file back: %w", err)
	}
	var got model.Config
	if err := json.Unmarshal(plain, &got); err != nil {
		return fmt.Errorf("read new config file back: %w", err)
	}
	if got != cfg {
		return errors.New("read new config file back: it differs from what was written")
	}
	return nil
}

// UpgradeError is a failed upgrade: writing the new config failed (Err),
// the old one was written again (failing with RestoreErr, if it did), and
// a copy of it is kept in BackupFile.
type UpgradeError struct {
	Err        error
	RestoreErr error
	BackupFile string
}

func (e *UpgradeError) Error() string {
	if e.RestoreErr != nil {
		return fmt.Sprintf("error uploading config (%v), re-uploading old config filed failed as well (%v), but there is a backup of the config file in %v", e.Err, e.RestoreErr, e.BackupFile)
	}
	return fmt.Sprintf("error uploading config (%v), re-uploaded old config was successful, there is a backup of the config file in %v", e.Err, e.BackupFile)
}

// Unwrap returns the error of writing the new config.
func (e *UpgradeError) Unwrap() error { return e.Err }
