package main

import (
	"github.com/arca-backup/arca/lock"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newUnlockCommand) }

func newUnlockCommand(a *app) *cobra.Command {
	var removeAll, dryRun bool
	c := &cobra.Command{
		Use:   "unlock",
		Short: "Remove locks other processes created",
		Long: `The "unlock" command removes stale locks that have been created by other
restic or arca processes. A lock is stale when its process is gone (same host),
when its timestamp and file time both say it was not refreshed within the stale
timeout, or when arca watched it stay unchanged that long.

arca also removes stale locks by itself whenever it takes a lock, so this
command is rarely needed.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.`,
		Args:              cobra.NoArgs,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			e, err := a.openEngineRepo(ctx)
			if err != nil {
				return err
			}
			defer e.Close()
			var infos []lock.Info
			if dryRun {
				infos, err = e.StaleLocks(ctx, removeAll)
			} else {
				infos, err = e.Unlock(ctx, removeAll)
			}
			if err != nil {
				return err
			}
			if dryRun {
				for _, in := range infos {
					a.printf("would remove lock %s: %s\n", in.ID, in.Reason)
				}
				return nil
			}
			if len(infos) > 0 {
				a.printf("successfully removed %d locks\n", len(infos))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&removeAll, "remove-all", false, "remove all locks, even non-stale ones")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "only list the locks that would be removed and why (arca extension)")
	return c
}
