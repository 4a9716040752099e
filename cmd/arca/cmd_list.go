package main

import (
	"bufio"
	"context"
	"slices"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newListCommand) }

var listTypes = []string{"blobs", "packs", "index", "snapshots", "keys", "locks"}

func newListCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list [flags] [" + strings.Join(listTypes, "|") + "]",
		Short: "List objects in the repository",
		Long: `
The "list" command allows listing objects in the repository based on type.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		DisableAutoGenTag: true,
		ValidArgs:         slices.Clone(listTypes), // cobra sorts it when writing bash completion
		Args:              cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runList(c.Context(), args)
		},
	}
}

func (a *app) runList(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fatalf("type not specified")
	}
	var t backend.FileType
	switch args[0] {
	case "packs":
		t = backend.PackFile
	case "index":
		t = backend.IndexFile
	case "snapshots":
		t = backend.SnapshotFile
	case "keys":
		t = backend.KeyFile
	case "locks":
		t = backend.LockFile // listed without a lock, so it works while locked
	case "blobs":
	default:
		return fatalf("invalid type")
	}
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	w := bufio.NewWriter(a.stdout)
	if args[0] == "blobs" {
		err = e.ListBlobs(ctx, func(b model.BlobHandle) error {
			w.WriteString(b.Type.String())
			w.WriteByte(' ')
			w.WriteString(b.ID.String())
			return w.WriteByte('\n')
		})
	} else {
		err = e.ListFiles(ctx, t, func(id model.ID, _ int64) error {
			_, err := w.WriteString(id.String() + "\n")
			return err
		})
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return engineError(err)
}
