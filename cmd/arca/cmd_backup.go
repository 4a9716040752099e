package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/archiver"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/feature"
	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
	"github.com/spf13/cobra"
)

type backupOptions struct {
	parent            string
	groupBy           groupByFlag
	force             bool
	excludes          filter.Patterns
	oneFileSystem     bool
	excludeIfPresent  []string
	excludeCaches     bool
	excludeLargerThan string
	stdin             bool
	stdinFilename     string
	stdinCommand      bool
	tags              tagListsFlag
	host              string
	filesFrom         []string
	filesFromVerbatim []string
	filesFromRaw      []string
	timeStamp         string
	withAtime         bool
	ignoreInode       bool
	ignoreCtime       bool
	dryRun            bool
	readConcurrency   uint
	noScan            bool
	skipIfUnchanged   bool
}

func init() {
	registerCommand(func(a *app) *cobra.Command {
		var o backupOptions
		o.groupBy.GroupBy = repo.GroupBy{Host: true, Paths: true}
		cmd := &cobra.Command{
			Use:   "backup [flags] [FILE/DIR] ...",
			Short: "Create a new backup of files and/or directories",
			Long: `
The "backup" command creates a new snapshot and saves the files and directories
given as the arguments.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was a fatal error (no snapshot created).
Exit status is 3 if some source data could not be read (incomplete snapshot created).
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
			DisableAutoGenTag: true,
			PreRunE: func(c *cobra.Command, _ []string) error {
				if v := os.Getenv("RESTIC_READ_CONCURRENCY"); v != "" && !c.Flags().Changed("read-concurrency") {
					n, err := strconv.ParseUint(v, 10, 32)
					if err != nil {
						return fatalf("invalid value for RESTIC_READ_CONCURRENCY %q: %v", v, err)
					}
					o.readConcurrency = uint(n)
				}
				// RESTIC_HOST is the flag's default, so an explicit
				// --host '' falls back to the hostname, as in restic
				if h := os.Getenv("RESTIC_HOST"); h != "" && !c.Flags().Changed("host") && !c.Flags().Changed("hostname") {
					o.host = h
				}
				if o.host == "" {
					if h, err := os.Hostname(); err == nil {
						o.host = h
					}
				}
				return nil
			},
			RunE: func(c *cobra.Command, args []string) error {
				return a.runBackup(c.Context(), &o, args)
			},
		}
		f := cmd.Flags()
		f.StringVar(&o.parent, "parent", "", "use this parent `snapshot` (default: latest snapshot in the group determined by --group-by and not newer than the timestamp determined by --time)")
		f.VarP(&o.groupBy, "group-by", "g", "`group` snapshots by host, paths and/or tags, separated by comma (disable grouping with '')")
		f.BoolVarP(&o.force, "force", "f", false, `force re-reading the source files/directories (overrides the "parent" flag)`)
		f.StringArrayVarP(&o.excludes.Patterns, "exclude", "e", nil, "exclude a `pattern` (can be specified multiple times)")
		f.StringArrayVar(&o.excludes.Insensitive, "iexclude", nil, "same as --exclude `pattern` but ignores the casing of filenames")
		f.StringArrayVar(&o.excludes.Files, "exclude-file", nil, "read exclude patterns from a `file` (can be specified multiple times)")
		f.StringArrayVar(&o.excludes.InsensitiveFiles, "iexclude-file", nil, "same as --exclude-file but ignores casing of `file`names in patterns")
		f.BoolVarP(&o.oneFileSystem, "one-file-system", "x", false, "exclude other file systems, don't cross filesystem boundaries and subvolumes")
		f.StringArrayVar(&o.excludeIfPresent, "exclude-if-present", nil, "takes `filename[:header]`, exclude contents of directories containing filename (except filename itself) if header of that file is as provided (can be specified multiple times)")
		f.BoolVar(&o.excludeCaches, "exclude-caches", false, `excludes cache directories that are marked with a CACHEDIR.TAG file. See https://bford.info/cachedir/ for the Cache Directory Tagging Standard`)
		f.StringVar(&o.excludeLargerThan, "exclude-larger-than", "", "max `size` of the files to be backed up (allowed suffixes: k/K, m/M, g/G, t/T)")
		f.BoolVar(&o.stdin, "stdin", false, "read backup from stdin")
		f.StringVar(&o.stdinFilename, "stdin-filename", "stdin", "`filename` to use when reading from stdin")
		f.BoolVar(&o.stdinCommand, "stdin-from-command", false, "interpret arguments as command to execute and store its stdout")
		f.Var(&o.tags, "tag", "add `tags` for the new snapshot in the format `tag[,tag,...]` (can be specified multiple times)")
		f.UintVar(&o.readConcurrency, "read-concurrency", 0, "read `n` files concurrently (default: $RESTIC_READ_CONCURRENCY or 2)")
		f.StringVarP(&o.host, "host", "H", "", "set the `hostname` for the snapshot manually (default: $RESTIC_HOST). To prevent an expensive rescan use the \"parent\" flag")
		f.StringVar(&o.host, "hostname", "", "set the `hostname` for the snapshot manually")
		_ = f.MarkDeprecated("hostname", "use --host")
		f.StringArrayVar(&o.filesFrom, "files-from", nil, "read the files to backup from `file` (can be combined with file args; can be specified multiple times)")
		f.StringArrayVar(&o.filesFromVerbatim, "files-from-verbatim", nil, "read the files to backup from `file` (can be combined with file args; can be specified multiple times)")
		f.StringArrayVar(&o.filesFromRaw, "files-from-raw", nil, "read the files to backup from `file` (can be combined with file args; can be specified multiple times)")
		f.StringVar(&o.timeStamp, "time", "", "`time` of the backup (ex. '2012-11-01 22:08:41') (default: now)")
		f.BoolVar(&o.withAtime, "with-atime", false, "store the atime for all files and directories")
		f.BoolVar(&o.ignoreInode, "ignore-inode", false, "ignore inode number and ctime changes when checking for modified files")
		f.BoolVar(&o.ignoreCtime, "ignore-ctime", false, "ignore ctime changes when checking for modified files")
		f.BoolVarP(&o.dryRun, "dry-run", "n", false, "do not upload or write any data, just show what would be done")
		f.BoolVar(&o.noScan, "no-scan", false, "do not run scanner to estimate size of backup")
		f.BoolVar(&o.skipIfUnchanged, "skip-if-unchanged", false, "skip snapshot creation if identical to parent snapshot")
		return cmd
	})
}

// errSourceUnreadable is restic's message when some source was skipped.
var errSourceUnreadable = errors.New("at least one source file could not be read")

func (o *backupOptions) check(a *app, args []string) error {
	if a.opts.password == "" && !a.opts.InsecureNoPassword && a.opts.PasswordFile == "" && a.opts.PasswordCommand == "" && os.Getenv("RESTIC_PASSWORD") == "" {
		if o.stdin {
			return fatalf("cannot read both password and data from stdin")
		}
		for _, f := range append(append(append([]string{}, o.filesFrom...), o.filesFromVerbatim...), o.filesFromRaw...) {
			if f == "-" {
				return fatalf("unable to read password from stdin when data is to be read from stdin, use --password-file or $RESTIC_PASSWORD")
			}
		}
	}
	if o.stdin || o.stdinCommand {
		switch {
		case len(o.filesFrom) > 0:
			return fatalf("--stdin and --files-from cannot be used together")
		case len(o.filesFromVerbatim) > 0:
			return fatalf("--stdin and --files-from-verbatim cannot be used together")
		case len(o.filesFromRaw) > 0:
			return fatalf("--stdin and --files-from-raw cannot be used together")
		case len(args) > 0 && !o.stdinCommand:
			return fatalf("--stdin was specified and files/dirs were listed as arguments")
		}
	}
	return nil
}

func readListLines(name string, stdin io.Reader) ([]string, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
		if err == nil {
			data = bytes.TrimPrefix(data, []byte{0xef, 0xbb, 0xbf})
		}
	}
	if err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// collectTargets gathers the paths from --files-from* and the arguments
// and drops those that do not exist (partial is then true).
func (a *app) collectTargets(o *backupOptions, args []string) (targets []string, partial bool, err error) {
	if o.stdin || o.stdinCommand {
		return nil, false, nil
	}
	for _, file := range o.filesFrom {
		lines, err := readListLines(file, a.stdin)
		if err != nil {
			return nil, false, err
		}
		for _, line := range lines {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			m, err := filepath.Glob(line)
			if err != nil {
				return nil, false, fmt.Errorf("pattern: %s: %w", line, err)
			}
			if len(m) == 0 {
				a.warnf("pattern %q does not match any files, skipping\n", line)
			}
			targets = append(targets, m...)
		}
	}
	for _, file := range o.filesFromVerbatim {
		lines, err := readListLines(file, a.stdin)
		if err != nil {
			return nil, false, err
		}
		for _, line := range lines {
			if line != "" {
				targets = append(targets, line)
			}
		}
	}
	for _, file := range o.filesFromRaw {
		var data []byte
		if file == "-" {
			data, err = io.ReadAll(a.stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, false, err
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, 0)
			if i < 0 {
				return nil, false, fatalf("--files-from-raw: trailing zero byte missing")
			}
			if i == 0 {
				return nil, false, fatalf("--files-from-raw: empty filename in listing")
			}
			targets = append(targets, string(data[:i]))
			data = data[i+1:]
		}
	}
	targets = append(targets, args...)
	if len(targets) == 0 {
		return nil, false, fatalf("nothing to backup, please specify source files/dirs")
	}
	var out []string
	for _, t := range targets {
		if _, err := os.Lstat(t); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				a.warnf("%v does not exist, skipping\n", t)
			} else {
				a.warnf("%v cannot be accessed, skipping\n", t)
			}
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, false, fatalf("all source directories/files do not exist")
	}
	return out, len(out) < len(targets), nil
}

// backupProgress renders the archiver's callbacks as restic's text or JSON
// output and keeps the counters for status messages.
type backupProgress struct {
	a     *app
	start time.Time

	mu           sync.Mutex
	errors       uint
	filesDone    uint64
	bytesDone    uint64
	totalFiles   uint64
	totalBytes   uint64
	scanDone     bool
	currentFiles map[string]struct{}
	rate         rateEstimator // for the ETA
}

func newBackupProgress(a *app, start time.Time) *backupProgress {
	return &backupProgress{a: a, start: start, currentFiles: map[string]struct{}{}, rate: newRateEstimator(start)}
}

func (p *backupProgress) errorf(item string, err error) error {
	p.mu.Lock()
	p.errors++
	p.mu.Unlock()
	if p.a.opts.JSON {
		p.a.printJSONErr(newJSONItemError("archival", item, err))
	} else {
		p.a.warnf("error: %v\n", err)
	}
	// the backup goes on without the item, unless the command whose
	// output it reads failed
	var failed *commandFailed
	if errors.As(err, &failed) {
		return err
	}
	return nil
}

type verboseStatus struct {
	MessageType        string  `json:"message_type"`
	Action             string  `json:"action"`
	Item               string  `json:"item"`
	Duration           float64 `json:"duration"`
	DataSize           uint64  `json:"data_size"`
	DataSizeInRepo     uint64  `json:"data_size_in_repo"`
	MetadataSize       uint64  `json:"metadata_size"`
	MetadataSizeInRepo uint64  `json:"metadata_size_in_repo"`
	TotalFiles         uint    `json:"total_files"`
}

func (p *backupProgress) completeItem(item string, previous, current *model.Node, s archiver.ItemStats, d time.Duration) {
	p.mu.Lock()
	if current != nil && current.Type == model.NodeTypeFile {
		p.filesDone++
	}
	delete(p.currentFiles, item)
	p.mu.Unlock()
	// restic shows items as JSON from -v on, as text from -vv on
	if current == nil || p.a.opts.verbosity() < 2 || (!p.a.opts.JSON && p.a.opts.verbosity() < 3) {
		return
	}
	action := "new"
	switch {
	case previous == nil:
	case sameNodeJSON(previous, current):
		action = "unchanged"
	default:
		action = "modified"
	}
	isDir := current.Type == model.NodeTypeDir
	if current.Type != model.NodeTypeFile && !isDir {
		return
	}
	if p.a.opts.JSON {
		v := verboseStatus{MessageType: "verbose_status", Action: action, Item: item}
		if action != "unchanged" {
			v.Duration = d.Seconds()
			v.DataSize, v.DataSizeInRepo = s.DataSize, s.DataSizeInRepo
			if isDir {
				v.MetadataSize, v.MetadataSizeInRepo = s.TreeSize, s.TreeSizeInRepo
			}
		}
		_ = p.a.printJSON(v)
		return
	}
	q := strconv.Quote(item)
	q = q[1 : len(q)-1]
	if q != item {
		q = strconv.Quote(item)
	}
	switch {
	case action == "unchanged":
		fmt.Fprintf(p.a.stdout, "unchanged %v\n", q)
	case isDir:
		fmt.Fprintf(p.a.stdout, "%-9s %v, saved in %.3fs (%v added, %v stored, %v metadata)\n", action, q, d.Seconds(),
			formatBytes(s.DataSize), formatBytes(s.DataSizeInRepo), formatBytes(s.TreeSizeInRepo))
	default:
		fmt.Fprintf(p.a.stdout, "%-9s %v, saved in %.3fs (%v added, %v stored)\n", action, q, d.Seconds(),
			formatBytes(s.DataSize), formatBytes(s.DataSizeInRepo))
	}
}

func sameNodeJSON(a, b *model.Node) bool {
	ja, e1 := a.MarshalJSON()
	jb, e2 := b.MarshalJSON()
	return e1 == nil && e2 == nil && bytes.Equal(ja, jb)
}

type statusJSON struct {
	MessageType      string   `json:"message_type"`
	SecondsElapsed   uint64   `json:"seconds_elapsed,omitempty"`
	SecondsRemaining uint64   `json:"seconds_remaining,omitempty"`
	PercentDone      float64  `json:"percent_done"`
	TotalFiles       uint64   `json:"total_files,omitempty"`
	FilesDone        uint64   `json:"files_done,omitempty"`
	TotalBytes       uint64   `json:"total_bytes,omitempty"`
	BytesDone        uint64   `json:"bytes_done,omitempty"`
	ErrorCount       uint     `json:"error_count,omitempty"`
	CurrentFiles     []string `json:"current_files,omitempty"`
}

func (p *backupProgress) status() {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := time.Since(p.start)
	s := statusJSON{MessageType: "status", SecondsElapsed: uint64(el / time.Second), TotalFiles: p.totalFiles,
		FilesDone: p.filesDone, TotalBytes: p.totalBytes, BytesDone: p.bytesDone, ErrorCount: p.errors,
		SecondsRemaining: p.secondsRemaining(), CurrentFiles: p.current()}
	if p.totalBytes > 0 {
		s.PercentDone = float64(p.bytesDone) / float64(p.totalBytes)
	}
	_ = p.a.printJSON(s)
}

// textStatus returns restic's status lines for a terminal: the counts,
// then the files being read.
func (p *backupProgress) textStatus() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := formatDuration(time.Since(p.start))
	var line string
	if !p.scanDone {
		line = fmt.Sprintf("[%s] %v files, %s, %d errors", el, p.filesDone, formatBytes(p.bytesDone), p.errors)
	} else {
		var percent, eta string
		if secs := p.secondsRemaining(); secs > 0 {
			percent = formatPercent(p.bytesDone, p.totalBytes) + "  "
			eta = " ETA " + formatDuration(time.Duration(secs)*time.Second)
		}
		line = fmt.Sprintf("[%s] %s%v files %s, total %v files %v, %d errors%s", el, percent,
			p.filesDone, formatBytes(p.bytesDone), p.totalFiles, formatBytes(p.totalBytes), p.errors, eta)
	}
	return append([]string{line}, p.current()...)
}

// secondsRemaining estimates the rest of the backup from its recent
// speed, once the scan has counted the bytes (0: no estimate, as for
// restic when the speed is 1 KiB/s or less). Call with p.mu held.
func (p *backupProgress) secondsRemaining() uint64 {
	if !p.scanDone || p.bytesDone >= p.totalBytes {
		return 0
	}
	rate := p.rate.rate(time.Now())
	if rate <= 1024 {
		return 0
	}
	return uint64(float64(p.totalBytes-p.bytesDone) / rate)
}

// current returns the files being read, sorted. Call with p.mu held.
func (p *backupProgress) current() []string {
	var files []string
	for f := range p.currentFiles {
		files = append(files, f)
	}
	sort.Strings(files)
	return files
}

// printJSONErr writes v as one line of JSON to stderr.
func (a *app) printJSONErr(v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	_, _ = a.stderr.Write(buf.Bytes())
}

func (a *app) runBackup(ctx context.Context, o *backupOptions, args []string) error {
	if err := o.check(a, args); err != nil {
		return err
	}
	defer limitMemory(lowMemoryHeadroom)()
	targets, partial, err := a.collectTargets(o, args)
	if err != nil {
		return err
	}
	timeStamp := time.Now()
	start := timeStamp
	if o.timeStamp != "" {
		timeStamp, err = time.ParseInLocation(timeFormat, o.timeStamp, time.Local)
		if err != nil {
			return fatalf("error in time option: %v", err)
		}
	}
	if a.opts.verbosity() >= 2 && !a.opts.JSON {
		a.printf("open repository\n")
	}
	index := a.newIndexCounter(true)
	e, err := a.openEngine(ctx, true, index)
	if err != nil {
		return err
	}
	defer e.Close()

	opts, err := a.backupEngineOptions(o, args, timeStamp, start)
	if err != nil {
		return err
	}
	rep := a.startBackupReport(ctx, index)
	defer rep.close()
	// a scan that nobody sees would only compete with the backup for the
	// disk and the CPU
	opts.NoScan = o.noScan || !rep.showsTotals()
	opts.OnError = rep.prog.errorf
	opts.Events = rep.event
	// built where restic builds them, after the parent and the index
	opts.SelectLater = func() (archiver.SelectFunc, error) {
		if o.stdin || o.stdinCommand {
			return o.tagSelects(rep.filterWarn.warnf)
		}
		return o.selects(targets, rep.filterWarn.warnf)
	}

	res, err := e.Backup(ctx, targets, opts)
	rep.stopStatus()
	if err != nil {
		return backupError(err)
	}
	a.backupFinish(res.SnapshotID, res.Summary, o.dryRun)
	if partial || res.Partial {
		return partialError{errSourceUnreadable}
	}
	return nil
}

// backupEngineOptions turns the flags into the engine's options, all but
// the reporting ones and NoScan, which depend on the output. Like restic,
// it reads the exclude files only once the repository is open.
func (a *app) backupEngineOptions(o *backupOptions, args []string, timeStamp, start time.Time) (engine.BackupOptions, error) {
	// exclude filters by name
	rejects, err := o.excludes.RejectFuncs(func(format string, args ...any) { a.warnf(format, args...) })
	if err != nil {
		// restic: bad patterns are fatal, an unreadable pattern file is
		// an ordinary error
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return engine.BackupOptions{}, err
		}
		return engine.BackupOptions{}, fatalf("%v", err)
	}
	var selectByName archiver.SelectByNameFunc
	if len(rejects) > 0 {
		selectByName = func(p string) bool {
			for _, f := range rejects {
				if f(p) {
					return false
				}
			}
			return true
		}
	}
	wopts := repo.WriteOptions{}
	if !o.dryRun {
		if wopts, err = a.writeOptions(); err != nil {
			return engine.BackupOptions{}, err
		}
	}
	opts := engine.BackupOptions{
		Host:            o.host,
		Tags:            o.tags.flatten(),
		Time:            timeStamp,
		Start:           start,
		ProgramVersion:  "restic " + resticVersion,
		Parent:          o.parent,
		ParentGroup:     &o.groupBy.GroupBy,
		NoParent:        o.force,
		SelectByName:    selectByName,
		Excludes:        o.excludes.Patterns,
		ReadConcurrency: int(o.readConcurrency),
		WithAtime:       o.withAtime,
		IgnoreCtime:     o.ignoreCtime,
		IgnoreInode:     o.ignoreInode,

		DeviceIDOnlyForHardlinks: a.features.Enabled(feature.DeviceIDForHardlinks),
		Write:                    wopts,
		DryRun:                   o.dryRun,
		SkipIfUnchanged:          o.skipIfUnchanged,
		SnapshotError: func(id model.ID, err error) {
			a.warnf("could not load snapshot %v: %v\n", id.Str(), err)
		},
	}
	if o.stdin || o.stdinCommand {
		opts.StdinFilename = o.stdinFilename
		opts.Stdin = a.backupStdin(o, args)
		// restic looks for a parent unless --stdin is given, even
		// together with --stdin-from-command (which then still runs)
		opts.StdinParent = o.stdinCommand && !o.stdin
	}
	return opts, nil
}

// backupReport renders a backup's events as restic does: messages, the
// status lines, and the filters' warnings, which it holds back until the
// scan or the backup starts. The filters run while the lock is confirmed
// (the engine reads meanwhile), and the engine reports the scan and the
// backup only once the lock is granted.
type backupReport struct {
	a          *app
	prog       *backupProgress
	filterWarn *heldWarnings
	index      *indexCounter // released after the "load index files" line

	// On a terminal the status is a block of lines at the bottom, redrawn
	// in place, which other output clears first (as restic's). Elsewhere
	// the lines are printed as they change only when RESTIC_PROGRESS_FPS
	// asks for them, which it does with --quiet too. nil: no lines.
	lines    *termStatus
	interval time.Duration
	fpsSet   bool
	restore  func() // puts back the app's stdout and stderr

	ctx     context.Context // ends the status updates
	cancel  context.CancelFunc
	started bool
	done    chan struct{} // closed when the status updates have stopped
}

// startBackupReport prepares the output of a backup; close it when done.
func (a *app) startBackupReport(ctx context.Context, index *indexCounter) *backupReport {
	r := &backupReport{
		a:          a,
		index:      index,
		prog:       newBackupProgress(a, time.Now()),
		filterWarn: &heldWarnings{warn: func(format string, args ...any) { a.warnf(format, args...) }},
		restore:    func() {},
	}
	r.interval, r.fpsSet = progressInterval()
	switch {
	case a.opts.JSON, a.opts.Quiet && !r.fpsSet:
	case a.stdoutIsTerminal() && !a.opts.Quiet:
		r.lines = newTermStatus(a.terminal)
		stdout, stderr := a.stdout, a.stderr
		a.stdout, a.stderr = r.lines.through(stdout), r.lines.through(stderr)
		r.restore = func() { a.stdout, a.stderr = stdout, stderr }
	case r.fpsSet:
		r.lines = newPlainStatus(a.stdout)
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

// showsTotals tells whether the scan's totals are shown: in JSON status
// lines, with -vv, and in status lines on a terminal or in a log
// (RESTIC_PROGRESS_FPS).
func (r *backupReport) showsTotals() bool {
	a := r.a
	return (a.opts.JSON && !a.opts.Quiet) || a.opts.verbosity() >= 2 || a.stdoutIsTerminal() || r.fpsSet
}

// startStatus starts the status updates at the start of the scan or the
// backup, whichever comes first: JSON status lines, or the terminal's
// status, ten times a second (RESTIC_PROGRESS_FPS) as restic does when
// not quiet.
func (r *backupReport) startStatus() {
	if r.started {
		return
	}
	r.started = true
	r.prog.mu.Lock()
	r.prog.start = time.Now()
	r.prog.mu.Unlock()
	if (!r.a.opts.JSON && r.lines == nil) || (r.a.opts.Quiet && !r.fpsSet) {
		return
	}
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			select {
			case <-r.ctx.Done():
				if r.lines != nil {
					r.lines.set(nil) // off the terminal; prints nothing in a log
				}
				return
			case <-t.C:
				if r.lines != nil {
					r.lines.set(r.prog.textStatus())
				} else {
					r.prog.status()
				}
			}
		}
	}()
}

// stopStatus ends the status updates and takes the status lines off the
// terminal.
func (r *backupReport) stopStatus() {
	r.cancel()
	if r.done != nil {
		<-r.done
	}
}

// close stops the status updates and gives the app its output back.
func (r *backupReport) close() {
	r.stopStatus()
	r.restore()
}

// begin reports the start of the scan or of the backup (what): the held
// warnings go out, and the status updates start with whichever is first.
func (r *backupReport) begin(what string, targets []string) {
	r.filterWarn.release()
	r.startStatus()
	if !r.a.opts.JSON {
		r.a.verbosef("start %s on %v\n", what, targets)
	}
}

// event renders one of the engine's events.
func (r *backupReport) event(ev engine.BackupEvent) {
	a, prog := r.a, r.prog
	switch ev := ev.(type) {
	case engine.BackupParent:
		// (a stdin backup hears of a parent only with a command, as in restic)
		if !a.opts.JSON {
			if ev.Snapshot != nil {
				a.printf("using parent snapshot %v\n", ev.Snapshot.ID.Str())
			} else {
				a.printf("no parent snapshot found, will read all files\n")
			}
		}
	case engine.BackupIndexLoading:
		if !a.opts.JSON {
			a.verbosef("load index files\n")
		}
		r.index.release()
	case engine.BackupScanStarted:
		r.begin("scan", ev.Targets)
	case engine.BackupScanFinished:
		prog.mu.Lock()
		prog.totalFiles, prog.totalBytes, prog.scanDone = ev.Files, ev.Bytes, true
		prog.mu.Unlock()
		if a.opts.verbosity() >= 2 {
			if a.opts.JSON {
				_ = a.printJSON(verboseStatus{MessageType: "verbose_status", Action: "scan_finished", Duration: ev.Duration.Seconds(), DataSize: ev.Bytes, TotalFiles: uint(ev.Files)})
			} else {
				a.printf("scan finished in %.3fs: %v files, %s\n", ev.Duration.Seconds(), ev.Files, formatBytes(ev.Bytes))
			}
		}
	case engine.BackupScanError:
		if a.opts.JSON {
			a.printJSONErr(newJSONItemError("scan", ev.Item, ev.Err))
		} else if a.opts.verbosity() >= 2 {
			a.warnf("scan: %v\n", ev.Err)
		}
	case engine.BackupStarted:
		r.begin("backup", ev.Targets)
	case engine.BackupFileStarted:
		prog.mu.Lock()
		prog.currentFiles[ev.Item] = struct{}{}
		prog.mu.Unlock()
	case engine.BackupBytes:
		prog.mu.Lock()
		prog.bytesDone += ev.Bytes
		prog.rate.add(time.Now(), ev.Bytes)
		prog.mu.Unlock()
	case engine.BackupItemDone:
		prog.completeItem(ev.Item, ev.Previous, ev.Current, ev.Stats, ev.Duration)
	}
}

// selects builds the filters by metadata: --one-file-system,
// --exclude-larger-than and the tag files.
func (o *backupOptions) selects(targets []string, warn func(string, ...any)) (archiver.SelectFunc, error) {
	var selects []archiver.SelectFunc
	if o.oneFileSystem {
		f, err := archiver.SelectByDevice(targets)
		if err != nil {
			return nil, err
		}
		selects = append(selects, f)
	}
	if o.excludeLargerThan != "" {
		n, err := prune.ParseSize(o.excludeLargerThan)
		if err != nil {
			return nil, err
		}
		selects = append(selects, archiver.SelectBySize(n))
	}
	tags, err := o.tagSelects(warn)
	if err != nil {
		return nil, err
	}
	if tags != nil {
		selects = append(selects, tags)
	}
	if len(selects) == 0 {
		return nil, nil
	}
	return archiver.CombineSelects(selects), nil
}

// tagSelects builds the filters of --exclude-if-present and
// --exclude-caches.
func (o *backupOptions) tagSelects(warn func(string, ...any)) (archiver.SelectFunc, error) {
	specs := append([]string{}, o.excludeIfPresent...)
	if o.excludeCaches {
		specs = append(specs, archiver.CacheDirTag)
	}
	var selects []archiver.SelectFunc
	for _, spec := range specs {
		f, err := archiver.SelectIfNotPresent(spec, warn)
		if err != nil {
			return nil, err
		}
		selects = append(selects, f)
	}
	if len(selects) == 0 {
		return nil, nil
	}
	return archiver.CombineSelects(selects), nil
}

// backupStdin returns the source of --stdin (standard input) or
// --stdin-from-command (the command's output; it runs in its own process
// group, killed as a whole on cancellation, so that a grandchild holding
// stdout open cannot keep the backup reading after the lock is lost or
// the user interrupts).
func (a *app) backupStdin(o *backupOptions, args []string) func(ctx context.Context) (io.Reader, func() error, error) {
	return func(ctx context.Context) (io.Reader, func() error, error) {
		if !a.opts.JSON {
			a.verbosef("read data from stdin\n")
		}
		if !o.stdinCommand {
			if err := checkStdinFilename(o.stdinFilename); err != nil {
				return nil, nil, err
			}
			return a.stdin, nil, nil
		}
		if len(args) == 0 {
			return nil, nil, errors.New("no command was specified as argument")
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		// restic passes the command's error output on line by line, each
		// line prefixed with the command's name
		stderr := &linePrefixer{w: a.stderr, prefix: "subprocess " + args[0] + ": "}
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("failed to start command: %w", err)
		}
		rd := &commandReader{cmd: cmd, out: out, stderr: stderr}
		if err := checkStdinFilename(o.stdinFilename); err != nil {
			// restic starts the command before it checks the name
			_ = rd.close()
			return nil, nil, err
		}
		return rd, rd.close, nil
	}
}

// checkStdinFilename refuses a --stdin-filename that names no file ("",
// ".", "/"), with restic's message.
func checkStdinFilename(name string) error {
	if path.Join("/", name) == "/" {
		return errors.New("failed to backup from stdin: invalid filename specified")
	}
	return nil
}

// linePrefixer writes what it is given line by line to w, each line
// prefixed.
type linePrefixer struct {
	w       io.Writer
	prefix  string
	partial []byte // the unfinished last line
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			break
		}
		line := append(l.partial, p[:i]...)
		l.partial = l.partial[:0]
		p = p[i+1:]
		if _, err := fmt.Fprintf(l.w, "%s%s\n", l.prefix, line); err != nil {
			return n, err
		}
	}
	return n, nil
}

// flush writes the unfinished last line, if any.
func (l *linePrefixer) flush() {
	if len(l.partial) > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.partial)
		l.partial = nil
	}
}

// commandReader reads the output of a --stdin-from-command command. At
// the end of the output it waits for the command and, as restic, turns a
// failed command into a read error, so the backup fails instead of
// storing a snapshot of output that may be incomplete.
type commandReader struct {
	cmd    *exec.Cmd
	out    io.Reader
	stderr *linePrefixer
	waited bool
	err    error // sticky: the error the last Read returned
}

func (c *commandReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.out.Read(p)
	if errors.Is(err, io.EOF) {
		if werr := c.wait(); werr != nil {
			err = werr
		}
	}
	c.err = err
	return n, err
}

// wait waits for the command once.
func (c *commandReader) wait() error {
	c.waited = true
	err := c.cmd.Wait()
	c.stderr.flush() // Wait has copied all of it
	if err != nil {
		return &commandFailed{err}
	}
	return nil
}

// commandFailed is the read error of a --stdin-from-command command that
// failed. It is reported as an item error and, as in restic, then ends
// the backup. The message nests restic's own fatal error text, as
// restic's reports do ("...: Fatal: command failed: ...").
type commandFailed struct{ err error }

func (c *commandFailed) Error() string { return "Fatal: command failed: " + c.err.Error() }
func (c *commandFailed) Unwrap() error { return c.err }

// close ends a command whose output was not read to the end (the backup
// failed or was interrupted) and reports how it ended; after a complete
// read the result is already known, and nil.
func (c *commandReader) close() error {
	if c.waited {
		return nil
	}
	_ = c.cmd.Cancel()
	return c.wait()
}

// backupError gives a failed backup restic's message.
func backupError(err error) error {
	var lost *engine.LockLostError
	var be *engine.BackupError
	switch {
	case errors.As(err, &lost):
		return fatalf("%v", lost.Cause)
	case errors.As(err, &be):
		switch be.Stage {
		case engine.StageData, engine.StageSnapshot:
			return &fatalError{msg: fmt.Sprintf("unable to save snapshot: %v", be.Err), cause: be.Err}
		}
		return be.Err
	}
	return err
}

// partialError carries restic's message and exit code 3.
type partialError struct{ err error }

func (p partialError) Error() string { return p.err.Error() }
func (p partialError) Is(target error) bool {
	return target == errPartial
}

func (a *app) backupFinish(id model.ID, s *archiver.Summary, dryRun bool) {
	if a.opts.JSON {
		out := struct {
			MessageType         string    `json:"message_type"`
			FilesNew            uint      `json:"files_new"`
			FilesChanged        uint      `json:"files_changed"`
			FilesUnmodified     uint      `json:"files_unmodified"`
			DirsNew             uint      `json:"dirs_new"`
			DirsChanged         uint      `json:"dirs_changed"`
			DirsUnmodified      uint      `json:"dirs_unmodified"`
			DataBlobs           int       `json:"data_blobs"`
			TreeBlobs           int       `json:"tree_blobs"`
			DataAdded           uint64    `json:"data_added"`
			DataAddedPacked     uint64    `json:"data_added_packed"`
			TotalFilesProcessed uint      `json:"total_files_processed"`
			TotalBytesProcessed uint64    `json:"total_bytes_processed"`
			TotalDuration       float64   `json:"total_duration"`
			BackupStart         time.Time `json:"backup_start"`
			BackupEnd           time.Time `json:"backup_end"`
			SnapshotID          string    `json:"snapshot_id,omitempty"`
			DryRun              bool      `json:"dry_run,omitempty"`
		}{"summary", s.Files.New, s.Files.Changed, s.Files.Unchanged, s.Dirs.New, s.Dirs.Changed, s.Dirs.Unchanged,
			s.DataBlobs, s.TreeBlobs, s.DataSize + s.TreeSize, s.DataSizeInRepo + s.TreeSizeInRepo,
			s.Files.New + s.Files.Changed + s.Files.Unchanged, s.ProcessedBytes, s.BackupEnd.Sub(s.BackupStart).Seconds(),
			s.BackupStart, s.BackupEnd, "", dryRun}
		if !id.IsNull() {
			out.SnapshotID = id.String()
		}
		_ = a.printJSON(out)
		return
	}
	a.printf("\n")
	a.printf("Files:       %5d new, %5d changed, %5d unmodified\n", s.Files.New, s.Files.Changed, s.Files.Unchanged)
	a.printf("Dirs:        %5d new, %5d changed, %5d unmodified\n", s.Dirs.New, s.Dirs.Changed, s.Dirs.Unchanged)
	a.verbosef("Data Blobs:  %5d new\n", s.DataBlobs)
	a.verbosef("Tree Blobs:  %5d new\n", s.TreeBlobs)
	verb := "Added"
	if dryRun {
		verb = "Would add"
	}
	a.printf("%s to the repository: %-5s (%-5s stored)\n", verb, formatBytes(s.DataSize+s.TreeSize), formatBytes(s.DataSizeInRepo+s.TreeSizeInRepo))
	a.printf("\n")
	a.printf("processed %v files, %v in %s\n", s.Files.New+s.Files.Changed+s.Files.Unchanged, formatBytes(s.ProcessedBytes), formatDuration(s.BackupEnd.Sub(s.BackupStart)))
	if !dryRun {
		if id.IsNull() {
			a.printf("skipped creating snapshot\n")
		} else {
			a.printf("snapshot %s saved\n", id.Str())
		}
	}
}

// heldWarnings holds warnings back until release, then passes them on.
type heldWarnings struct {
	warn     func(format string, args ...any)
	mu       sync.Mutex
	held     []string
	released bool
}

func (h *heldWarnings) warnf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		h.warn(format, args...)
		return
	}
	h.held = append(h.held, fmt.Sprintf(format, args...))
}

// release prints the warnings held so far and lets later ones through.
func (h *heldWarnings) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.held {
		h.warn("%s", m)
	}
	h.held, h.released = nil, true
}
