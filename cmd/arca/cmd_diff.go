package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/diff"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newDiffCommand) }

func newDiffCommand(a *app) *cobra.Command {
	var metadata bool
	cmd := &cobra.Command{
		Use:   "diff [flags] snapshotID snapshotID",
		Short: "Show differences between two snapshots",
		Long: `
The "diff" command shows differences from the first to the second snapshot. The
first characters in each line display what has happened to a particular file or
directory:

* +  The item was added
* -  The item was removed
* U  The metadata (access mode, timestamps, ...) for the item was updated
* M  The file's content was modified
* T  The type was changed, e.g. a file was made a symlink
* ?  Bitrot detected: The file's content has changed but all metadata is the same

Metadata comparison will likely not work if a backup was created using the
'--ignore-inode' or '--ignore-ctime' option.

To only compare files in specific subfolders, you can use the
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
			return a.runDiff(c, metadata, args)
		},
	}
	cmd.Flags().BoolVar(&metadata, "metadata", false, "print changes in metadata")
	return cmd
}

// diffStatJSON is one side of restic's diff statistics message.
type diffStatJSON struct {
	Files     int    `json:"files"`
	Dirs      int    `json:"dirs"`
	Others    int    `json:"others"`
	DataBlobs int    `json:"data_blobs"`
	TreeBlobs int    `json:"tree_blobs"`
	Bytes     uint64 `json:"bytes"`
}

func newDiffStatJSON(s diff.Stat) diffStatJSON {
	return diffStatJSON{Files: s.Files, Dirs: s.Dirs, Others: s.Others, DataBlobs: s.DataBlobs, TreeBlobs: s.TreeBlobs, Bytes: s.Bytes}
}

func (a *app) runDiff(c *cobra.Command, metadata bool, args []string) error {
	if len(args) != 2 {
		return fatalf("specify two snapshot IDs")
	}
	e, err := a.openEngineRepo(c.Context())
	if err != nil {
		return err
	}
	defer e.Close()
	return engineError(e.Read(c.Context(), func(ctx context.Context, rd *engine.Reader) error {
		return a.diff(ctx, rd, metadata, args)
	}))
}

func (a *app) diff(ctx context.Context, rd *engine.Reader, metadata bool, args []string) error {
	var roots [2]model.ID
	var subs [2]string
	var short [2]string
	for i, arg := range args {
		// diff takes IDs and prefixes only: "latest" is not special here
		name, sub, _ := strings.Cut(arg, ":")
		id, err := model.ParseID(name)
		if err != nil {
			if id, err = rd.FindFileID(ctx, backend.SnapshotFile, name); err != nil {
				return fatalf("%v", err)
			}
		}
		sn, err := rd.LoadSnapshot(ctx, id)
		if err != nil {
			return fatalf("%v", err)
		}
		roots[i], subs[i], short[i] = *sn.Tree, sub, sn.ID.Str()
	}
	if !a.opts.JSON {
		a.printf("comparing snapshot %v to %v:\n\n", short[0], short[1])
	}
	for i := range roots {
		var err error
		if roots[i], err = rd.Subtree(ctx, roots[i], subs[i]); err != nil {
			return err
		}
	}

	// restic's encoder escapes HTML characters (<, >, &) in paths
	enc := json.NewEncoder(a.stdout)
	// like restic's diff, changes and statistics are printed even with --quiet
	out := func(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
	opts := diff.Options{
		Metadata: metadata,
		OnError:  func(err error) { a.warnf("error: %v\n", err) },
	}
	switch {
	case a.opts.Quiet:
	case a.opts.JSON:
		opts.OnChange = func(ch diff.Change) {
			if err := enc.Encode(struct {
				MessageType string `json:"message_type"`
				Path        string `json:"path"`
				Modifier    string `json:"modifier"`
			}{"change", ch.Path, ch.Modifier}); err != nil {
				a.warnf("JSON encode failed: %v\n", err)
			}
		}
	default:
		opts.OnChange = func(ch diff.Change) { out("%-5s%v\n", ch.Modifier, ch.Path) }
	}
	res, err := rd.Diff(ctx, roots[0], roots[1], opts)
	if err != nil {
		return err
	}

	if a.opts.JSON {
		return enc.Encode(struct {
			MessageType    string       `json:"message_type"`
			SourceSnapshot string       `json:"source_snapshot"`
			TargetSnapshot string       `json:"target_snapshot"`
			ChangedFiles   int          `json:"changed_files"`
			Added          diffStatJSON `json:"added"`
			Removed        diffStatJSON `json:"removed"`
		}{"statistics", args[0], args[1], res.ChangedFiles, newDiffStatJSON(res.Added), newDiffStatJSON(res.Removed)})
	}
	out("\n")
	out("Files:       %5d new, %5d removed, %5d changed\n", res.Added.Files, res.Removed.Files, res.ChangedFiles)
	out("Dirs:        %5d new, %5d removed\n", res.Added.Dirs, res.Removed.Dirs)
	out("Others:      %5d new, %5d removed\n", res.Added.Others, res.Removed.Others)
	out("Data Blobs:  %5d new, %5d removed\n", res.Added.DataBlobs, res.Removed.DataBlobs)
	out("Tree Blobs:  %5d new, %5d removed\n", res.Added.TreeBlobs, res.Removed.TreeBlobs)
	out("  Added:   %-5s\n", formatBytes(res.Added.Bytes))
	out("  Removed: %-5s\n", formatBytes(res.Removed.Bytes))
	return nil
}
