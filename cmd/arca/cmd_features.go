package main

import (
	"strconv"

	"github.com/arca-backup/arca/repo/feature"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newFeaturesCommand) }

func newFeaturesCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print list of feature flags",
		Long: `
The "features" command lists the feature flags restic (and arca) know.

Feature flags are set in the RESTIC_FEATURES environment variable, as
"featureA=true,featureB=false"; naming an unknown flag is an error.

Each flag is in one of four stages: alpha (off by default, may change or
disappear in any release), beta (on by default, may still change a little),
stable (always on, cannot be switched off; the flag will be removed) or
deprecated (always off, cannot be switched on; the flag will be removed).

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
`,
		DisableAutoGenTag: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 {
				return fatalf("the feature command expects no arguments")
			}
			// printed whatever --quiet and --json say, as restic does
			if _, err := a.stdout.Write([]byte("All Feature Flags:\n")); err != nil {
				return err
			}
			t := newTable("Name", "Type", "Default", "Description")
			for _, f := range feature.Flags() {
				t.addRow(string(f.Name), string(f.Stage), strconv.FormatBool(f.Stage.Default()), f.Description)
			}
			return t.write(a.stdout)
		},
	}
}
