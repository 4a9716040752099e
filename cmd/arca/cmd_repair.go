package main

import "github.com/spf13/cobra"

func init() { registerCommand(newRepairCommand) }

// repairCommandBuilders are the builders of the repair subcommands; each
// cmd_repair_*.go file adds its own with registerRepairCommand in an init
// function. It is written only during package initialisation.
var repairCommandBuilders []func(a *app) *cobra.Command

func registerRepairCommand(f func(a *app) *cobra.Command) {
	repairCommandBuilders = append(repairCommandBuilders, f)
}

func newRepairCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "repair",
		Short: "Repair the repository",
		Long: `
The "repair" command repairs damaged repositories. It provides subcommands to
rebuild the index, salvage damaged pack files, and repair broken snapshots.
`,
		DisableAutoGenTag: true,
	}
	for _, b := range repairCommandBuilders {
		c.AddCommand(b(a))
	}
	return c
}
