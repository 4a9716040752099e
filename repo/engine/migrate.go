package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/arca-backup/arca/repo/migrate"
)

// Migration describes a migration that can be applied to the repository.
type Migration struct {
	Name, Description string
}

// Migrations lists the migrations that apply to the repository (restic
// 0.19.1 knows one: upgrade_repo_v2), under an exclusive lock as restic
// takes it.
func (e *Repository) Migrations(ctx context.Context) ([]Migration, error) {
	var out []Migration
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		for _, m := range migrate.All() {
			ok, _, err := m.Check(ctx, e.r)
			if err != nil {
				return fmt.Errorf("migration %s: %w", m.Name(), err)
			}
			if ok {
				out = append(out, Migration{Name: m.Name(), Description: m.Description()})
			}
		}
		return nil
	})
	return out, err
}

// MigrateOptions tune Migrate.
type MigrateOptions struct {
	// Force applies a migration even when its own check says it does
	// not apply (restic's --force).
	Force bool
	// Check tunes the repository check some migrations need before they
	// are applied (as Check's options; it runs under Migrate's lock, so
	// its NoLock does not matter). CheckDone decides on the outcome: an
	// error it returns stops Migrate. Nil: the check's error, or
	// ErrRepoDamaged when it found damage.
	Check     CheckOptions
	CheckDone func(res CheckResult, err error) error
	// Events receives what happens to each migration named.
	Events MigrateEvents
}

// MigrateEvents report Migrate's progress; any field may be nil.
type MigrateEvents struct {
	// Unknown: no migration has this name; it is skipped.
	Unknown func(name string)
	// NotApplicable: the migration does not apply (reason says why, or
	// is empty) and Force is not set; it is skipped.
	NotApplicable func(name, reason string)
	// Forced: the migration does not apply, but Force applies it anyway.
	Forced func(name string)
	// Checking: the repository is checked before the migration.
	Checking func(name string)
	// Applying, then Applied or Failed: the migration runs.
	Applying func(name string)
	Applied  func(name string)
	Failed   func(name string, err error)
}

// ErrRepoDamaged is Migrate's error when the check before a migration
// finds damage.
var ErrRepoDamaged = errors.New("repository contains errors")

// Migrate applies the named migrations in order, under an exclusive lock,
// as restic's migrate does: unknown names and migrations that do not
// apply are skipped (and reported), a failed migration does not stop the
// next one, and the first failure is returned at the end; a failed
// repository check stops at once.
func (e *Repository) Migrate(ctx context.Context, names []string, opts MigrateOptions) error {
	ev := opts.Events
	return e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		var first error
		for _, name := range names {
			m := migrate.Find(name)
			if m == nil {
				call1(ev.Unknown, name)
				continue
			}
			ok, reason, err := m.Check(ctx, e.r)
			if err != nil {
				return fmt.Errorf("migration %s: %w", m.Name(), err)
			}
			if !ok {
				if !opts.Force {
					if ev.NotApplicable != nil {
						ev.NotApplicable(m.Name(), reason)
					}
					continue
				}
				call1(ev.Forced, m.Name())
			}
			if m.NeedsRepoCheck() {
				call1(ev.Checking, m.Name())
				if err := e.checkBeforeMigration(ctx, opts); err != nil {
					return err
				}
			}
			call1(ev.Applying, m.Name())
			if err := m.Apply(ctx, e.r); err != nil {
				if ev.Failed != nil {
					ev.Failed(m.Name(), err)
				}
				if first == nil {
					first = fmt.Errorf("migration %s: %w", m.Name(), err)
				}
				continue
			}
			call1(ev.Applied, m.Name())
		}
		return first
	})
}

func (e *Repository) checkBeforeMigration(ctx context.Context, opts MigrateOptions) error {
	res, err := e.check(ctx, opts.Check)
	if opts.CheckDone != nil {
		return opts.CheckDone(res, err)
	}
	if err != nil {
		return err
	}
	if !res.OK() || res.IndexDamaged {
		return ErrRepoDamaged
	}
	return nil
}

func call1(f func(string), s string) {
	if f != nil {
		f(s)
	}
}
