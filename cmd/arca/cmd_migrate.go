package main

import (
	"context"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/migrate"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newMigrateCommand) }

func newMigrateCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "migrate [flags] [migration name] [...]",
		Short: "Apply migrations",
		Long: `
The "migrate" command lists the migrations that can be applied to the
repository. Given the names of migrations, it applies them.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runMigrate(c.Context(), force, args)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "apply a migration a second time")
	return cmd
}

// runMigrate lists the migrations that apply (no arguments) or applies
// the named ones, holding an exclusive lock as restic does (--no-lock
// does not lift it).
func (a *app) runMigrate(ctx context.Context, force bool, names []string) error {
	s, err := a.openSession(ctx, lockExclusive)
	if err != nil {
		return err
	}
	defer s.done()
	if len(names) == 0 {
		return a.listMigrations(s.ctx, s.repo)
	}
	return a.applyMigrations(s.ctx, s.repo, force, names)
}

func (a *app) listMigrations(ctx context.Context, r *repo.Repository) error {
	a.printf("available migrations:\n")
	found := false
	for _, m := range migrate.All() {
		ok, _, err := m.Check(ctx, r)
		if err != nil {
			return err
		}
		if ok {
			a.printf("  %v\t%v\n", m.Name(), m.Description())
			found = true
		}
	}
	if !found {
		a.printf("no migrations found\n")
	}
	return nil
}

// applyMigrations applies the named migrations in order. Like restic, it
// only warns about unknown names and migrations that do not apply (exit
// code 0), goes on after a failed migration and returns the first failure;
// a failed repository check ends it at once.
func (a *app) applyMigrations(ctx context.Context, r *repo.Repository, force bool, names []string) error {
	var first error
	for _, name := range names {
		m := migrate.Find(name)
		if m == nil {
			a.warnf("unknown migration %v\n", name)
			continue
		}
		ok, reason, err := m.Check(ctx, r)
		if err != nil {
			return err
		}
		if !ok {
			if !force {
				if reason == "" {
					reason = "check failed"
				}
				a.warnf("migration %v cannot be applied: %v\nIf you want to apply this migration anyway, re-run with option --force\n", m.Name(), reason)
				continue
			}
			a.warnf("check for migration %v failed, continuing anyway\n", m.Name())
		}
		if m.NeedsRepoCheck() {
			a.printf("checking repository integrity...\n")
			if err := a.checkBeforeMigration(ctx); err != nil {
				return err
			}
		}
		a.printf("applying migration %v...\n", m.Name())
		if err := m.Apply(ctx, r); err != nil {
			a.warnf("migration %v failed: %v\n", m.Name(), err)
			if first == nil {
				first = err
			}
			continue
		}
		a.printf("migration %v: success\n", m.Name())
	}
	return first
}

// checkBeforeMigration runs check (without --read-data) on the repository
// the migration holds locked, printing what check prints.
func (a *app) checkBeforeMigration(ctx context.Context) error {
	saved := a.opts.NoLock
	a.opts.NoLock = true // the migration's exclusive lock covers the check
	defer func() { a.opts.NoLock = saved }()
	_, err := a.runCheck(ctx, checkOptions{}, nil)
	return err
}
