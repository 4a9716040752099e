package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/stats"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newStatsCommand) }

func newStatsCommand(a *app) *cobra.Command {
	var mode string
	var filter snapshotFilterOptions
	cmd := &cobra.Command{
		Use:   "stats [flags] [snapshot ID] [...]",
		Short: "Scan the repository and show basic statistics",
		Long: `
The "stats" command walks one or multiple snapshots in a repository
and accumulates statistics about the data stored therein. It reports 
on the number of unique files and their sizes, according to one of
the counting modes as given by the --mode flag.

It operates on all snapshots matching the selection criteria or all
snapshots if nothing is specified. The special snapshot ID "latest"
is also supported. Some modes make more sense over 
just a single snapshot, while others are useful across all snapshots,
depending on what you are trying to calculate.

The modes are:

* restore-size: (default) Counts the size of the restored files.
* files-by-contents: Counts total size of unique files, where a file is
   considered unique if it has unique contents.
* raw-data: Counts the size of blobs in the repository, regardless of
  how many files reference them.
* blobs-per-file: A combination of files-by-contents and raw-data.

Refer to the online manual for more details about each mode.

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
			return a.runStats(c, mode, filter, args)
		},
	}
	cmd.Flags().StringVar(&mode, "mode", string(stats.RestoreSize), "counting mode: restore-size (default), files-by-contents, blobs-per-file or raw-data")
	filter.addMulti(cmd.Flags(), true)
	return cmd
}

// statsJSON is restic's stats --json message.
type statsJSON struct {
	TotalSize              uint64  `json:"total_size"`
	TotalUncompressedSize  uint64  `json:"total_uncompressed_size,omitempty"`
	CompressionRatio       float64 `json:"compression_ratio,omitempty"`
	CompressionProgress    float64 `json:"compression_progress,omitempty"`
	CompressionSpaceSaving float64 `json:"compression_space_saving,omitempty"`
	TotalFileCount         uint64  `json:"total_file_count,omitempty"`
	TotalBlobCount         uint64  `json:"total_blob_count,omitempty"`
	SnapshotsCount         int     `json:"snapshots_count"`
}

// countStats selects the snapshots and counts them, printing restic's
// "scanning..." and final progress lines.
func (a *app) countStats(ctx context.Context, rd *engine.Reader, mode stats.Mode, filter snapshotFilterOptions, args []string) (stats.Result, error) {
	// like restic's stats, the report is printed even with --quiet
	out := func(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
	if !a.opts.JSON {
		out("scanning...\n")
	}
	var snapshots []*model.Snapshot
	all, loadErrs, ok, err := a.readSnapshots(ctx, rd)
	if err != nil {
		return stats.Result{}, err
	}
	if ok {
		snapshots = a.chooseSnapshots(all, loadErrs, filter, args)
	}

	progress := &stats.Progress{}
	start := time.Now()
	// the final progress line, as restic prints it when output is not JSON
	finalProgress := func() {
		if a.opts.JSON {
			return
		}
		st := progress.State()
		line := fmt.Sprintf("[%s] %s  %d / %d snapshots", formatDuration(time.Since(start)),
			formatPercent(st.Snapshots, uint64(len(snapshots))), st.Snapshots, len(snapshots))
		if st.Files > 0 {
			line += fmt.Sprintf(", %d files", st.Files)
		}
		if st.Blobs > 0 {
			line += fmt.Sprintf(", %d blobs", st.Blobs)
		}
		out("%s, %s\n", line, formatBytes(st.Bytes))
	}
	res, err := rd.Stats(ctx, snapshots, engine.StatsOptions{Mode: mode, Progress: progress})
	var se *engine.SnapshotError
	switch {
	case errors.As(err, &se):
		finalProgress()
		return res, fmt.Errorf("error walking snapshot: %v", se.Err)
	case err != nil && ctx.Err() != nil:
		return res, err
	}
	finalProgress()
	return res, err
}

func (a *app) runStats(c *cobra.Command, modeArg string, filter snapshotFilterOptions, args []string) error {
	mode, err := stats.ParseMode(modeArg)
	if err != nil {
		return fmt.Errorf("unknown counting mode: %s (use the -h flag to get a list of supported modes)", modeArg)
	}
	e, err := a.openEngineRepo(c.Context())
	if err != nil {
		return err
	}
	defer e.Close()
	var res stats.Result
	err = e.Read(c.Context(), func(ctx context.Context, rd *engine.Reader) error {
		// restic loads the index before it says "scanning..."
		if err := e.LoadIndex(ctx); err != nil {
			return err
		}
		var err error
		res, err = a.countStats(ctx, rd, mode, filter, args)
		return err
	})
	if err != nil {
		return engineError(err)
	}
	// like restic's stats, the report is printed even with --quiet
	out := func(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
	if a.opts.JSON {
		return a.printJSON(statsJSON{
			TotalSize:              res.TotalSize,
			TotalUncompressedSize:  res.TotalUncompressedSize,
			CompressionRatio:       res.CompressionRatio,
			CompressionProgress:    res.CompressionProgress,
			CompressionSpaceSaving: res.CompressionSpaceSaving,
			TotalFileCount:         res.TotalFileCount,
			TotalBlobCount:         res.TotalBlobCount,
			SnapshotsCount:         res.SnapshotsCount,
		})
	}
	out("Stats in %s mode:\n", mode)
	out("     Snapshots processed:  %d\n", res.SnapshotsCount)
	if res.TotalBlobCount > 0 {
		out("        Total Blob Count:  %d\n", res.TotalBlobCount)
	}
	if res.TotalFileCount > 0 {
		out("        Total File Count:  %d\n", res.TotalFileCount)
	}
	if res.TotalUncompressedSize > 0 {
		out(" Total Uncompressed Size:  %-5s\n", formatBytes(res.TotalUncompressedSize))
	}
	out("              Total Size:  %-5s\n", formatBytes(res.TotalSize))
	if res.CompressionProgress > 0 {
		out("    Compression Progress:  %.2f%%\n", res.CompressionProgress)
	}
	if res.CompressionRatio > 0 {
		out("       Compression Ratio:  %.2fx\n", res.CompressionRatio)
	}
	if res.CompressionSpaceSaving > 0 {
		out("Compression Space Saving:  %.2f%%\n", res.CompressionSpaceSaving)
	}
	return nil
}
