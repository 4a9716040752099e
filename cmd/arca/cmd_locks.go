package main

import (
	"github.com/spf13/cobra"
)

func init() { registerCommand(newLocksCommand) }

// newLocksCommand is an arca extension: every lock with its holder, its
// age by each clock and the verdict.
func newLocksCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "locks",
		Short: "Show every lock with its holder, ages and whether it is stale (arca extension)",
		Long: `The "locks" command lists the repository's lock files with their holder,
their age by the lock's own timestamp, by the backend's file time and by how
long arca watched them, and whether arca considers them stale.`,
		Args:              cobra.NoArgs,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			e, err := a.openEngineRepo(ctx)
			if err != nil {
				return err
			}
			defer e.Close()
			infos, err := e.Locks(ctx)
			if err != nil {
				return err
			}
			if a.opts.JSON {
				return a.printJSON(infos)
			}
			for _, in := range infos {
				a.printf("%s\n", in.String())
			}
			return nil
		},
	}
}
