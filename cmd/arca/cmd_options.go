package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { registerCommand(newOptionsCommand) }

// extendedOption is a -o option arca's backends honour.
type extendedOption struct{ name, help string }

// extendedOptions lists them in restic's order and words; restic's options
// for backends arca does not have (azure, b2, gs, rclone, swift) and S3's
// cold-storage restore are left out.
var extendedOptionList = []extendedOption{
	{"local.connections", "set a limit for the number of concurrent operations (default: 2)"},
	{"rest.connections", "set a limit for the number of concurrent connections (default: 5)"},
	{"s3.bucket-lookup", "bucket lookup style: 'auto', 'dns', or 'path'"},
	{"s3.connections", "set a limit for the number of concurrent connections (default: 5)"},
	{"s3.layout", "use this backend layout (default: auto-detect) (deprecated)"},
	{"s3.list-objects-v1", "use deprecated V1 api for ListObjects calls"},
	{"s3.region", "set region"},
	{"s3.retries", "set the number of retries attempted"},
	{"s3.storage-class", "set S3 storage class (STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING or REDUCED_REDUNDANCY)"},
	{"s3.unsafe-anonymous-auth", "use anonymous authentication"},
	{"sftp.args", "specify arguments for ssh"},
	{"sftp.command", "specify command to create sftp connection"},
	{"sftp.connections", "set a limit for the number of concurrent connections (default: 5)"},
}

func newOptionsCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "options",
		Short: "Print list of extended options",
		Long: `
The "options" command prints a list of extended options.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
`,
		DisableAutoGenTag: true,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(a.stdout, "All Extended Options:")
			width := 0
			for _, o := range extendedOptionList {
				width = max(width, len(o.name))
			}
			for _, o := range extendedOptionList {
				fmt.Fprintf(a.stdout, "  %-*s  %s\n", width, o.name, o.help)
			}
		},
	}
}
