package main

import (
	"bufio"
	"context"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/index"
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
		ValidArgs:         listTypes,
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
	mode := a.readLockMode()
	if args[0] == "locks" {
		mode = lockNone // listing locks must work while the repository is locked
	}
	s, err := a.openSession(ctx, mode)
	if err != nil {
		return err
	}
	defer s.done()
	ctx, r := s.ctx, s.repo

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
		t = backend.LockFile
	case "blobs":
		// one line per blob entry of every index file, as restic prints
		// them (a blob listed in several index files appears several times)
		w := bufio.NewWriter(a.stdout)
		err := r.ForEachIndexFile(ctx, func(_ model.ID, f *index.File, err error) error {
			if err != nil {
				return err
			}
			for _, p := range f.Packs {
				for _, b := range p.Blobs {
					w.WriteString(b.Type.String())
					w.WriteByte(' ')
					w.WriteString(b.ID.String())
					w.WriteByte('\n')
				}
			}
			return nil
		})
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		return err
	default:
		return fatalf("invalid type")
	}
	w := bufio.NewWriter(a.stdout)
	err = r.List(ctx, t, func(id model.ID, _ int64) error {
		_, err := w.WriteString(id.String() + "\n")
		return err
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}
