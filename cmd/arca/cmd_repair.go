package main

import "github.com/spf13/cobra"

func init() { registerCommand(newRepairCommand) }

// repairCommandBuilders add the subcommands of repair; each cmd_repair_*.go
// file appends its builder in an init function.
var repairCommandBuilders []func(a *app) *cobra.Command

func registerRepairCommand(f func(a *app) *cobra.Command) {
	repairCommandBuilders = append(repairCommandBuilders, f)
}

func newRepairCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Repair the repository",
		Long: `
The "repair" command repairs damaged repositories. It provides subcommands to
rebuild the index, salvage damaged pack files, and repair broken snapshots.
`,
		DisableAutoGenTag: true,
	}
	for _, b := range repairCommandBuilders {
		cmd.AddCommand(b(a))
	}
	return cmd
}
