package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
)

func init() {
	registerCommand(newKeyCommand)
	registerKeySubcommand(newKeyListCommand)
}

// keySubcommandBuilders are the subcommands of "key" (list, add, remove,
// passwd); each cmd_key_*.go file registers its own in an init function.
var keySubcommandBuilders []func(a *app) *cobra.Command

func registerKeySubcommand(f func(a *app) *cobra.Command) {
	keySubcommandBuilders = append(keySubcommandBuilders, f)
}

func newKeyCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage keys (passwords)",
		Long: `
The "key" command allows you to set multiple access keys or passwords
per repository.
	`,
		DisableAutoGenTag: true,
	}
	for _, b := range keySubcommandBuilders {
		cmd.AddCommand(b(a))
	}
	return cmd
}

func newKeyListCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List keys (passwords)",
		Long: `
The "key list" command lists all the keys (passwords) associated with the repository.
Returns the key ID, username, hostname, created time and if it's the current key being
used to access the repository.

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
			if len(args) > 0 {
				return fmt.Errorf("the key list command expects no arguments, only options - please see `restic help key list` for usage and flags")
			}
			return a.runKeyList(c.Context())
		},
	}
}

// keyInfo is one line of "key list"; its JSON is restic's.
type keyInfo struct {
	Current  bool   `json:"current"`
	ID       string `json:"id"`
	UserName string `json:"userName"`
	HostName string `json:"hostName"`
	Created  string `json:"created"`
}

func (a *app) runKeyList(ctx context.Context) error {
	e, err := a.openKeyEngine(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	list, err := e.ReadKeys(ctx, func(_ model.ID, err error) {
		a.warnf("LoadKey() failed: %v\n", err)
	})
	if err != nil {
		return engineError(err)
	}
	var keys []keyInfo
	for _, k := range list {
		keys = append(keys, keyInfo{
			Current:  k.Current,
			ID:       k.ID.String(),
			UserName: k.Username,
			HostName: k.Hostname,
			Created:  k.Created.Local().Format(timeFormat),
		})
	}

	if a.opts.JSON {
		return json.NewEncoder(a.stdout).Encode(keys)
	}
	tab := newTable(" ID", "User", "Host", "Created")
	for _, k := range keys {
		mark := " "
		if k.Current {
			mark = "*"
		}
		tab.addRow(mark+k.ID[:8], k.UserName, k.HostName, k.Created)
	}
	return tab.write(a.stdout)
}
