package repo

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/repo/model"
)

// ReplaceConfig stores cfg as the repository's config file in place of the
// current one. r keeps using the config it was opened with: open the
// repository again to work with the new one. On backends without atomic
// replace the caller must remove the old file first. A failed save may
// leave the repository without a config: repo/migrate shows how to guard
// against that.
func (r *Repository) ReplaceConfig(ctx context.Context, cfg model.Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("new config: %w", err)
	}
	return r.saveConfig(ctx, cfg)
}
