package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/arca-backup/arca/repo/dump"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newDumpCommand) }

type dumpOptions struct {
	filter  snapshotFilterOptions
	archive string
	target  string
}

func newDumpCommand(a *app) *cobra.Command {
	var opts dumpOptions
	c := &cobra.Command{
		Use:   "dump [flags] snapshotID file",
		Short: "Print backed-up files or folders to stdout",
		Long: `
The "dump" command extracts files from a snapshot from the repository. If a
single file is selected, it prints its contents to stdout. Folders are output
as a tar (default) or zip file containing the contents of the specified folder.
Pass "/" as file name to dump the whole snapshot as an archive file.

The special snapshotID "latest" can be used to use the latest snapshot in the
repository.

To include the folder content at the root of the archive, you can use the
"snapshotID:subfolder" syntax, where "subfolder" is a path within the
snapshot tree as shown by "restic ls".

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
			return a.runDump(c.Context(), opts, args)
		},
	}
	f := c.Flags()
	opts.filter.addSingle(f)
	f.StringVarP(&opts.archive, "archive", "a", "tar", "set archive `format` as \"tar\" or \"zip\"")
	f.StringVarP(&opts.target, "target", "t", "", "write the output to target `path`")
	return c
}

func (a *app) runDump(ctx context.Context, opts dumpOptions, args []string) (err error) {
	if len(args) != 2 {
		return fatalf("no file and no snapshot ID specified")
	}
	format, err := dump.ParseFormat(opts.archive)
	if err != nil {
		return err
	}
	snapArg, target := args[0], args[1]

	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	err = e.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		all, err := rd.Snapshots(ctx, a.warnSnapshotLoad)
		if err != nil {
			return err
		}
		sn, sub, err := resolveSnapshotArg(ctx, rd, all, opts.filter, snapArg)
		if err != nil {
			return fatalf("failed to find snapshot: %v", err)
		}
		root, err := rd.Subtree(ctx, *sn.Tree, sub)
		if err != nil {
			return err
		}
		return a.dump(ctx, rd, opts, snapArg, root, target, format)
	})
	return engineError(err)
}

// dump writes the path below root to stdout or the --target file.
func (a *app) dump(ctx context.Context, rd *engine.Reader, opts dumpOptions, snapArg string, root model.ID, target string, format dump.Format) (err error) {
	var out io.Writer = a.stdout
	checkArchive := func() error {
		if a.stdoutIsTerminal() {
			return errors.New("stdout is the terminal, please redirect output")
		}
		return nil
	}
	if opts.target != "" {
		f, err := os.Create(opts.target)
		if err != nil {
			return fmt.Errorf("cannot dump to file: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("cannot dump to file: %w", cerr)
			}
		}()
		out = f
		checkArchive = nil
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	err = rd.Dump(ctx, root, target, format, bw, engine.DumpOptions{CheckArchive: checkArchive})
	var tle *engine.TreeLoadError
	switch {
	case errors.As(err, &tle):
		return fatalf("loading tree for snapshot %q failed: %v", snapArg, tle.Err)
	case err != nil:
		bw.Flush()
		return fatalf("cannot dump file: %v", err)
	}
	return bw.Flush()
}
