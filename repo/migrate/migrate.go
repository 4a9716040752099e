// Package migrate holds the repository migrations restic's `migrate`
// command offers. Each migration says whether it applies to a repository
// (and if not, why), whether the repository must pass a check before it
// runs, and how to apply it. restic 0.19.1 knows one: upgrade_repo_v2,
// which turns a version 1 repository into a version 2 one by rewriting the
// config file.
package migrate

import (
	"context"

	"github.com/arca-backup/arca/repo"
)

// Migration is one change to a repository.
type Migration interface {
	// Name is the short name the migrate command takes.
	Name() string
	// Description says in a few words what the migration does.
	Description() string
	// Check reports whether the migration can be applied to r; when it
	// cannot, reason may say why (empty when there is nothing to add).
	Check(ctx context.Context, r *repo.Repository) (ok bool, reason string, err error)
	// NeedsRepoCheck reports whether the repository must pass a check
	// before Apply.
	NeedsRepoCheck() bool
	// Apply runs the migration. The caller holds an exclusive lock.
	Apply(ctx context.Context, r *repo.Repository) error
}

// All returns every migration, in the order restic lists them.
func All() []Migration {
	return []Migration{&UpgradeRepoV2{}}
}

// Find returns the migration called name, or nil.
func Find(name string) Migration {
	for _, m := range All() {
		if m.Name() == name {
			return m
		}
	}
	return nil
}
