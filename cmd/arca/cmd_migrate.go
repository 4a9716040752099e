package main

import (
	"context"
	"errors"

	"github.com/arca-backup/arca/repo/engine"
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
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	if len(names) == 0 {
		return a.listMigrations(ctx, e)
	}
	return a.applyMigrations(ctx, e, force, names)
}

func (a *app) listMigrations(ctx context.Context, e *engine.Repository) error {
	list, err := e.Migrations(ctx)
	if err != nil {
		return engineError(err)
	}
	a.printf("available migrations:\n")
	for _, m := range list {
		a.printf("  %v\t%v\n", m.Name, m.Description)
	}
	if len(list) == 0 {
		a.printf("no migrations found\n")
	}
	return nil
}

// applyMigrations applies the named migrations in order. Like restic, it
// only warns about unknown names and migrations that do not apply (exit
// code 0), goes on after a failed migration and returns the first failure;
// a failed repository check ends it at once.
func (a *app) applyMigrations(ctx context.Context, e *engine.Repository, force bool, names []string) error {
	var first error
	summary := checkSummary{MessageType: "summary"}
	out := &reportPrinter{a: a}
	check, finishCheck, err := a.checkRun(e, checkOptions{}, nil, out, &summary)
	if err != nil {
		return err
	}
	cleanup := func() {}
	err = e.Migrate(ctx, names, engine.MigrateOptions{
		Force: force,
		Check: check,
		CheckDone: func(res engine.CheckResult, err error) error {
			defer cleanup()
			return finishCheck(res, err)
		},
		Events: engine.MigrateEvents{
			Unknown: func(name string) { a.warnf("unknown migration %v\n", name) },
			NotApplicable: func(name, reason string) {
				if reason == "" {
					reason = "check failed"
				}
				a.warnf("migration %v cannot be applied: %v\nIf you want to apply this migration anyway, re-run with option --force\n", name, reason)
			},
			Forced: func(name string) { a.warnf("check for migration %v failed, continuing anyway\n", name) },
			Checking: func(string) {
				a.printf("checking repository integrity...\n")
				cleanup = a.prepareCheckCache(out, false)
			},
			Applying: func(name string) { a.printf("applying migration %v...\n", name) },
			Failed: func(name string, err error) {
				a.warnf("migration %v failed: %v\n", name, err)
				if first == nil {
					first = err
				}
			},
			Applied: func(name string) { a.printf("migration %v: success\n", name) },
		},
	})
	if first != nil && err != nil && errors.Is(err, first) {
		// the engine names the migration; restic's error is its own
		return first
	}
	return engineError(err)
}
