package main

import (
	"runtime"

	"github.com/spf13/cobra"
)

func init() { registerCommand(newVersionCommand) }

func newVersionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version information",
		Long: `The "version" command prints detailed information about the build
environment and the version of this software.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if a.opts.JSON {
				return a.printJSON(struct {
					MessageType string `json:"message_type"`
					Version     string `json:"version"`
					GoVersion   string `json:"go_version"`
					GoOS        string `json:"go_os"`
					GoArch      string `json:"go_arch"`
				}{"version", resticVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH})
			}
			a.printf("restic %s compiled with %v on %v/%v (arca %s)\n", resticVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH, arcaVersion)
			return nil
		},
	}
}
