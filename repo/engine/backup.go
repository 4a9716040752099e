package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend/writegate"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/archiver"
	"github.com/arca-backup/arca/repo/model"
)

// BackupOptions tune Backup. The zero value backs up the targets with the
// latest snapshot of the same host and paths as parent, as restic does.
type BackupOptions struct {
	// Host is recorded in the snapshot ("": this machine's hostname).
	Host string
	// Tags are recorded in the snapshot.
	Tags []string
	// Time is the snapshot's time (zero: now).
	Time time.Time
	// Start is recorded as the summary's backup start (zero: when Backup
	// is called). restic records when its command started, before it
	// opened the repository, not when reading began.
	Start time.Time
	// ProgramVersion is recorded in the snapshot ("": "arca").
	ProgramVersion string

	// Parent names the parent snapshot (ID or prefix); files unchanged
	// since it are not read again. "" picks the latest snapshot of the
	// same group (ParentGroup) older than Time.
	Parent string
	// ParentGroup says which snapshots count as earlier runs of this
	// backup when Parent is "" (restic's --group-by; nil: same host and
	// paths, a zero GroupBy: any snapshot).
	ParentGroup *repo.GroupBy
	// NoParent reads every file (restic's --force).
	NoParent bool

	// SelectByName and Select exclude items (nil: include all); see the
	// archiver package for ready-made ones (size, device, tag files).
	// Excludes are the patterns recorded in the snapshot for information.
	SelectByName archiver.SelectByNameFunc
	Select       archiver.SelectFunc
	Excludes     []string
	// SelectLater, when set, builds Select once the parent is chosen and
	// the index loaded: restic builds its filters by metadata (size,
	// device) there, so their errors (an invalid size, a target whose
	// device cannot be read) come after its "using parent snapshot" line.
	// What it returns takes the place of Select; its error fails the
	// backup as it is.
	SelectLater func() (archiver.SelectFunc, error)

	// Stdin, when set, is opened once the backup is ready to read (the
	// lock taken, the index loaded) and what it returns is saved as the
	// one file StdinFilename ("": "stdin") instead of the targets. The
	// close function it returns (may be nil) is called when the content
	// has been read; its error fails the backup (for example a command
	// whose output is backed up exited with an error). A read error,
	// and a Stdin that gives no data at all (ErrNoData, as restic), is an
	// item error: when OnError lets the backup go on, the snapshot is
	// saved without the file and the result is Partial.
	Stdin         func(ctx context.Context) (io.Reader, func() error, error)
	StdinFilename string
	// StdinParent gives a Stdin backup a parent snapshot, chosen as for
	// targets but with no paths to match (the latest of the host, or of
	// ParentGroup without paths), against which the file and its
	// directories count as new, changed or unmodified. restic does this
	// for --stdin-from-command and not for --stdin.
	StdinParent bool

	// ReadConcurrency, WithAtime, IgnoreCtime and IgnoreInode are passed
	// to the archiver (see archiver.Options).
	ReadConcurrency          int
	WithAtime                bool
	IgnoreCtime, IgnoreInode bool
	// DeviceIDOnlyForHardlinks keeps a node's device ID only for files
	// with several links (restic's device-id-for-hardlinks feature).
	DeviceIDOnlyForHardlinks bool

	// Write tunes the pack writer: compression, pack size.
	Write repo.WriteOptions
	// DryRun reads, chunks, compresses, seals and packs everything as a
	// real run, so that the sizes reported are real, but stores nothing.
	DryRun bool
	// SkipIfUnchanged saves no snapshot when the tree equals the parent's.
	SkipIfUnchanged bool
	// NoScan skips counting the files up front (ScanFinished is then not
	// reported and totals stay zero).
	NoScan bool

	// Events receives progress (nil: none); see BackupEvent. It is called
	// from several goroutines, one call at a time.
	Events func(BackupEvent)
	// OnError decides about an item that could not be read: nil from it
	// skips the item (the backup then ends with Partial set), an error
	// aborts the backup. Nil skips every such item.
	OnError func(item string, err error) error
	// SnapshotError is told about snapshot files that cannot be read
	// while the parent is chosen (they are skipped).
	SnapshotError func(id model.ID, err error)
}

// BackupStage says where a backup failed (see BackupError).
type BackupStage int

const (
	// StageParent: choosing the parent snapshot.
	StageParent BackupStage = iota + 1
	// StageIndex: loading the index.
	StageIndex
	// StageStdin: opening Stdin.
	StageStdin
	// StageData: reading the files and storing their data.
	StageData
	// StageSnapshot: writing the snapshot file.
	StageSnapshot
)

// BackupError is a failed backup: the stage that failed and why. A
// cancelled backup's error also matches context.Canceled (errors.Is).
type BackupError struct {
	Stage BackupStage
	Err   error
}

func (e *BackupError) Error() string {
	what := map[BackupStage]string{StageParent: "find parent snapshot", StageIndex: "load index",
		StageStdin: "open stdin", StageData: "save data", StageSnapshot: "save snapshot"}[e.Stage]
	return fmt.Sprintf("backup: %s: %v", what, e.Err)
}

func (e *BackupError) Unwrap() error { return e.Err }

// BackupEvent is one of the Backup* progress events below.
type BackupEvent interface{ backupEvent() }

// BackupParent reports the parent snapshot chosen (nil: none, every file
// is read).
type BackupParent struct{ Snapshot *model.Snapshot }

// BackupIndexLoading is reported before the index is loaded.
type BackupIndexLoading struct{}

// BackupScanStarted and BackupScanFinished bracket the count of the work
// to do (Files, Bytes), which runs alongside the backup.
type BackupScanStarted struct{ Targets []string }

type BackupScanFinished struct {
	Files, Bytes uint64
	Duration     time.Duration
}

// BackupScanError: the count could not read an item (absolute path). The
// backup goes on; it reports the item again when it gets to it.
type BackupScanError struct {
	Item string
	Err  error
}

// BackupStarted is reported when the archiver starts on the targets.
type BackupStarted struct{ Targets []string }

// BackupFileStarted: a file starts being read.
type BackupFileStarted struct{ Item string }

// BackupBytes: Bytes more of file content were read and chunked.
type BackupBytes struct{ Bytes uint64 }

// BackupItemDone: an item is finished. Previous is its node in the parent
// snapshot (nil: new), Current the new node; Item ends in "/" for
// directories.
type BackupItemDone struct {
	Item              string
	Previous, Current *model.Node
	Stats             archiver.ItemStats
	Duration          time.Duration
}

// BackupItemError: an item could not be (completely) read.
type BackupItemError struct {
	Item string
	Err  error
}

func (BackupParent) backupEvent()       {}
func (BackupIndexLoading) backupEvent() {}
func (BackupScanStarted) backupEvent()  {}
func (BackupScanFinished) backupEvent() {}
func (BackupScanError) backupEvent()    {}
func (BackupStarted) backupEvent()      {}
func (BackupFileStarted) backupEvent()  {}
func (BackupBytes) backupEvent()        {}
func (BackupItemDone) backupEvent()     {}
func (BackupItemError) backupEvent()    {}

// BackupResult is what a backup did.
type BackupResult struct {
	// SnapshotID is the new snapshot (zero when SkipIfUnchanged found
	// nothing changed; with DryRun the ID it would have had).
	SnapshotID model.ID
	// Snapshot is the snapshot saved (nil when none was).
	Snapshot *model.Snapshot
	// Parent is the parent snapshot used, or nil.
	Parent *model.Snapshot
	// Summary counts files, directories and bytes.
	Summary *archiver.Summary
	// Targets are the paths backed up (the stdin file name with Stdin).
	Targets []string
	// Partial is set when some items could not be read and were skipped.
	Partial bool
}

// Backup saves the targets (files and directories) as a new snapshot,
// under a shared lock. Cancelling ctx stops it: the snapshot is not
// written, the repository stays consistent, and the data already uploaded
// is indexed so that the next backup does not upload it again.
//
// The backup starts reading (snapshots, index, parent trees, files) as
// soon as its lock file is written, while the lock is being confirmed;
// it writes nothing and reports nothing (Events, SnapshotError, OnError,
// Stdin are not called) until the lock is granted, and a refused lock
// leaves the repository untouched. SelectByName and Select may be called
// before that. With Options.Lock.RetryLock set, the lock is taken first.
func (e *Repository) Backup(ctx context.Context, targets []string, opts BackupOptions) (*BackupResult, error) {
	if opts.Stdin == nil && len(targets) == 0 {
		return nil, errors.New("backup: no targets")
	}
	if !opts.DryRun && e.lockOpts.RetryLock <= 0 {
		return e.backupEarly(ctx, targets, opts)
	}
	mode := SharedLock
	if opts.DryRun {
		mode = NoLock
	}
	var res *BackupResult
	err := e.withLock(ctx, mode, func(ctx context.Context) error {
		var err error
		res, err = e.backup(ctx, &backupRun{opts: opts}, targets)
		return err
	})
	return res, err
}

// backupRun is the state of one backup.
type backupRun struct {
	opts BackupOptions
	// gate, when set, is the pending lock: writes wait for it, and
	// reports are held (holding) until it is granted, dropped if not
	gate *writegate.Gate

	mu        sync.Mutex // serialises reports
	holding   bool
	dropped   bool
	held      []func()
	delivered chan struct{} // closed when holding ends with the lock granted

	errMu  sync.Mutex
	failed bool
}

// report calls f now, or later when the lock is still pending (never
// when it is refused). Reports keep their order.
func (b *backupRun) report(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.dropped:
	case b.holding:
		b.held = append(b.held, f)
	default:
		f()
	}
}

func (b *backupRun) emit(ev BackupEvent) {
	if b.opts.Events == nil {
		return
	}
	// as report, without a closure for each of the many reports that are
	// not held
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.dropped:
	case b.holding:
		b.held = append(b.held, func() { b.opts.Events(ev) })
	default:
		b.opts.Events(ev)
	}
}

// deliver makes the reports held so far, and lets later ones through.
func (b *backupRun) deliver() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.held {
		f()
	}
	b.held, b.holding = nil, false
	close(b.delivered)
}

// drop discards the reports held so far and all later ones.
func (b *backupRun) drop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held, b.holding, b.dropped = nil, false, true
}

// granted waits until the lock is granted and the held reports are made
// (nil), or the lock is refused (its error).
func (b *backupRun) granted(ctx context.Context) error {
	if b.gate == nil {
		return nil
	}
	if err := b.gate.Wait(ctx); err != nil {
		return err
	}
	select {
	case <-b.delivered:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refused reports whether the lock was refused.
func (b *backupRun) refused() bool {
	if b.gate == nil {
		return false
	}
	select {
	case <-b.gate.Decided():
		return b.gate.Wait(context.Background()) != nil
	default:
		return false
	}
}

func (e *Repository) backup(ctx context.Context, b *backupRun, targets []string) (*BackupResult, error) {
	opts, err := b.options()
	if err != nil {
		return nil, err
	}
	r := e.r
	res := &BackupResult{Targets: targets}
	if res.Parent, err = e.loadParentAndIndex(ctx, b, targets, opts); err != nil {
		return nil, err
	}
	if opts.SelectLater != nil {
		sel, err := opts.SelectLater()
		if err != nil {
			return nil, err
		}
		opts.Select = sel
	}

	// a dry run packs as a real one and drops the packs, so that what it
	// reports is what a real run would store
	wopts := opts.Write
	wopts.Discard = opts.DryRun
	writer, err := r.NewWriter(ctx, wopts)
	if err != nil {
		return nil, &BackupError{StageData, err}
	}
	arch, err := archiver.New(treeSource{r}, writer, r.Config().ChunkerPolynomial, archiver.Options{
		ReadConcurrency:  opts.ReadConcurrency,
		LargeFileReaders: largeFileReaders(opts.Write.Compression, writer.Compresses(model.DataBlob)),
		WithAtime:        opts.WithAtime,
		IgnoreCtime:      opts.IgnoreCtime || opts.IgnoreInode,
		IgnoreInode:      opts.IgnoreInode,
		SelectByName:     opts.SelectByName,
		Select:           opts.Select,

		DeviceIDOnlyForHardlinks: opts.DeviceIDOnlyForHardlinks,
	}, b.callbacks(ctx))
	if err != nil {
		return nil, err
	}

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var scanDone sync.WaitGroup
	if !opts.NoScan && opts.Stdin == nil {
		b.startScan(runCtx, &scanDone, targets, opts)
	}

	var rootID model.ID
	var parentTree *model.ID
	if res.Parent != nil {
		parentTree = res.Parent.Tree
	}
	if opts.Stdin != nil {
		filename := stdinPath(opts.StdinFilename)
		res.Targets = []string{filename}
		var src io.Reader
		var done func() error
		if src, done, err = b.openStdin(ctx, opts, res.Targets); err != nil {
			if !b.refused() {
				writer.Abandon(ctx)
			}
			return nil, &BackupError{StageStdin, err}
		}
		src = &nonEmptyReader{r: src, name: path.Base(filename)}
		rootID, res.Summary, err = arch.SnapshotReader(ctx, filename, src, opts.Time, parentTree)
		if done != nil {
			if derr := done(); derr != nil && err == nil {
				err = derr
			}
		}
		if err == nil {
			err = writer.Flush(ctx)
		}
	} else {
		b.emit(BackupStarted{Targets: targets})
		rootID, res.Summary, err = arch.Snapshot(ctx, targets, parentTree)
		if err == nil {
			err = writer.Flush(ctx)
		}
	}
	waitScan(&scanDone, scanGrace)
	stopRun()
	scanDone.Wait()
	if err != nil {
		// keep what was uploaded, so that the next backup reuses it, but
		// write nothing once the lock is lost: a prune may be running
		if !errors.Is(context.Cause(ctx), lock.ErrLost) && !b.refused() {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if aerr := writer.Abandon(actx); aerr != nil {
				err = errors.Join(err, fmt.Errorf("index the data already stored: %w", aerr))
			}
		}
		return nil, &BackupError{StageData, err}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// as restic, the backup ends once its packs and index are stored
	// (the archiver's end is that of the last tree)
	res.Summary.BackupStart, res.Summary.BackupEnd = opts.Start, time.Now()
	b.errMu.Lock()
	res.Partial = b.failed
	b.errMu.Unlock()
	if opts.SkipIfUnchanged && res.Parent != nil && res.Parent.Tree != nil && *res.Parent.Tree == rootID {
		return res, nil
	}
	sn := newSnapshot(rootID, res, opts)
	if opts.DryRun {
		// restic reports the ID of the snapshot a real run would have
		// stored
		id, err := r.SnapshotID(sn)
		if err != nil {
			return nil, &BackupError{StageSnapshot, err}
		}
		res.SnapshotID = id
		return res, nil
	}
	id, err := r.SaveSnapshot(ctx, sn)
	if err != nil {
		return nil, &BackupError{StageSnapshot, err}
	}
	res.SnapshotID, res.Snapshot = id, sn
	return res, nil
}

// stdinPath is the path a backup of standard input stores its data
// under: /stdin unless --stdin-filename names it.
func stdinPath(name string) string {
	if name == "" {
		name = "stdin"
	}
	return path.Join("/", name)
}

// openStdin opens the stream a backup of standard input reads, once the
// lock is granted (opening it may start a command), and reports the
// scan and the backup's start as restic does: its scan of the one-file
// tree finds one file of unknown size at once.
func (b *backupRun) openStdin(ctx context.Context, opts BackupOptions, targets []string) (io.Reader, func() error, error) {
	if err := b.granted(ctx); err != nil {
		return nil, nil, err
	}
	src, done, err := opts.Stdin(ctx)
	if err != nil {
		return nil, nil, err
	}
	scanStart := time.Now()
	if !opts.NoScan {
		b.emit(BackupScanStarted{Targets: targets})
	}
	b.emit(BackupStarted{Targets: targets})
	if !opts.NoScan {
		b.emit(BackupScanFinished{Files: 1, Duration: time.Since(scanStart)})
	}
	return src, done, nil
}

// options returns the run's options with the defaults filled in: start
// and snapshot time now, the host this one, and the snapshot errors
// reported as the events are (held while the lock is pending).
func (b *backupRun) options() (BackupOptions, error) {
	opts := b.opts
	if f := opts.SnapshotError; f != nil {
		opts.SnapshotError = func(id model.ID, err error) { b.report(func() { f(id, err) }) }
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if opts.Time.IsZero() {
		opts.Time = opts.Start
	}
	if opts.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return opts, fmt.Errorf("hostname: %w", err)
		}
		opts.Host = h
	}
	return opts, nil
}

// loadParentAndIndex loads the index while it chooses the parent snapshot
// (both only read; the events keep their order) and returns the parent,
// nil when there is none or none is wanted.
func (e *Repository) loadParentAndIndex(ctx context.Context, b *backupRun, targets []string, opts BackupOptions) (*model.Snapshot, error) {
	idxCtx, stopIdx := context.WithCancel(ctx)
	defer stopIdx()
	idxLoaded := make(chan error, 1)
	go func() { idxLoaded <- e.r.LoadIndex(idxCtx) }()
	var parent *model.Snapshot
	withParent := opts.Stdin == nil || opts.StdinParent
	if withParent && !opts.NoParent {
		// for Stdin, targets is empty: no paths to match
		var err error
		parent, err = e.findParent(ctx, targets, opts)
		if err != nil {
			stopIdx()
			<-idxLoaded
			return nil, &BackupError{StageParent, err}
		}
	}
	if withParent {
		b.emit(BackupParent{Snapshot: parent})
	}
	b.emit(BackupIndexLoading{})
	if err := <-idxLoaded; err != nil {
		return nil, &BackupError{StageIndex, err}
	}
	return parent, nil
}

// callbacks are the archiver's callbacks for this run: they turn into
// events, and an item's error goes to OnError once the lock is granted.
func (b *backupRun) callbacks(ctx context.Context) archiver.Callbacks {
	opts := b.opts
	cb := archiver.Callbacks{
		Error: func(item string, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				// cancelled: what fails now fails because of that
				return cerr
			}
			// the caller decides about the item, so it must hear of it:
			// not before the lock is granted
			if lerr := b.granted(ctx); lerr != nil {
				return lerr
			}
			b.errMu.Lock()
			b.failed = true
			b.errMu.Unlock()
			b.emit(BackupItemError{Item: item, Err: err})
			if opts.OnError != nil {
				return opts.OnError(item, err)
			}
			return nil
		},
		StartFile:    func(item string) { b.emit(BackupFileStarted{Item: item}) },
		CompleteBlob: func(n uint64) { b.emit(BackupBytes{Bytes: n}) },
		CompleteItem: func(item string, previous, current *model.Node, s archiver.ItemStats, d time.Duration) {
			b.emit(BackupItemDone{Item: item, Previous: previous, Current: current, Stats: s, Duration: d})
		},
	}
	if opts.Events == nil {
		cb.StartFile, cb.CompleteBlob, cb.CompleteItem = nil, nil, nil
	}
	return cb
}

// startScan counts the files and bytes below targets beside the backup,
// for the progress, until ctx ends; done is released when it has
// reported its result.
func (b *backupRun) startScan(ctx context.Context, done *sync.WaitGroup, targets []string, opts BackupOptions) {
	b.emit(BackupScanStarted{Targets: targets})
	start := time.Now()
	done.Add(1)
	go func() {
		defer done.Done()
		files, bytes := archiver.Scan(ctx, targets, opts.SelectByName, opts.Select, func(item string, err error) {
			b.emit(BackupScanError{Item: item, Err: err})
		})
		// reported also when the backup ended first (partial counts)
		b.emit(BackupScanFinished{Files: files, Bytes: bytes, Duration: time.Since(start)})
	}()
}

// findParent returns the parent snapshot named by opts.Parent, or the
// latest one of the backup's group; nil when there is none.
func (e *Repository) findParent(ctx context.Context, targets []string, opts BackupOptions) (*model.Snapshot, error) {
	all, err := e.r.Snapshots(ctx, func(id model.ID, err error) error {
		if opts.SnapshotError != nil {
			opts.SnapshotError(id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	g := repo.GroupBy{Host: true, Paths: true}
	if opts.ParentGroup != nil {
		g = *opts.ParentGroup
	}
	f := repo.SnapshotFilter{TimestampLimit: opts.Time}
	if g.Host {
		f.Hosts = []string{opts.Host}
	}
	if g.Paths {
		for _, t := range targets {
			f.Paths = append(f.Paths, absPath(t))
		}
	}
	if g.Tags {
		f.Tags = [][]string{opts.Tags}
	}
	name := opts.Parent
	if name == "" {
		name = "latest"
	}
	sel, err := repo.FindSnapshot(ctx, e.r, all, name, f)
	switch {
	case err == nil:
		return sel.Snapshot, nil
	case opts.Parent == "" && errors.Is(err, repo.ErrNoSnapshot):
		return nil, nil
	}
	return nil, err
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// newSnapshot builds the snapshot record of a finished backup.
func newSnapshot(root model.ID, res *BackupResult, opts BackupOptions) *model.Snapshot {
	version := opts.ProgramVersion
	if version == "" {
		version = "arca"
	}
	sn := &model.Snapshot{Time: opts.Time, Tree: &root, Hostname: opts.Host, Tags: opts.Tags,
		ProgramVersion: version, Excludes: opts.Excludes}
	for _, t := range res.Targets {
		sn.Paths = append(sn.Paths, absPath(t))
	}
	if u, err := user.Current(); err == nil {
		sn.Username = u.Username
		if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			sn.UID = uint32(n)
		}
		if n, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			sn.GID = uint32(n)
		}
	}
	if res.Parent != nil {
		pid := res.Parent.ID
		sn.Parent = &pid
	}
	s := res.Summary
	sn.Summary = &model.SnapshotSummary{
		BackupStart:         s.BackupStart,
		BackupEnd:           s.BackupEnd,
		FilesNew:            s.Files.New,
		FilesChanged:        s.Files.Changed,
		FilesUnmodified:     s.Files.Unchanged,
		DirsNew:             s.Dirs.New,
		DirsChanged:         s.Dirs.Changed,
		DirsUnmodified:      s.Dirs.Unchanged,
		DataBlobs:           s.DataBlobs,
		TreeBlobs:           s.TreeBlobs,
		DataAdded:           s.DataSize + s.TreeSize,
		DataAddedPacked:     s.DataSizeInRepo + s.TreeSizeInRepo,
		TotalFilesProcessed: s.Files.New + s.Files.Changed + s.Files.Unchanged,
		TotalBytesProcessed: s.ProcessedBytes,
	}
	return sn
}

// treeSource gives the archiver the parent's trees and the index.
type treeSource struct{ r *repo.Repository }

func (t treeSource) LoadTree(ctx context.Context, id model.ID) (*model.Tree, error) {
	return t.r.LoadTree(ctx, id)
}

func (t treeSource) HasBlob(bt model.BlobType, id model.ID) bool {
	return t.r.Index().Has(model.BlobHandle{ID: id, Type: bt})
}

// ErrNoData is the read error of a Stdin that ended without any data:
// restic refuses to store an empty file from standard input, which more
// often means a failed pipeline than an empty source.
var ErrNoData = errors.New("no data read")

// nonEmptyReader turns the end of a stream that gave no data into a read
// error naming the file, worded as restic's ("read stdin: no data read").
type nonEmptyReader struct {
	r    io.Reader
	name string
	read bool
}

func (n *nonEmptyReader) Read(p []byte) (int, error) {
	c, err := n.r.Read(p)
	n.read = n.read || c > 0
	if errors.Is(err, io.EOF) && !n.read {
		return c, &fs.PathError{Op: "read", Path: n.name, Err: ErrNoData}
	}
	return c, err
}

// largeFileReaders is how many of the archiver's default readers take files
// of any size (0: the archiver's default, two). Compressing at zstd's best
// level runs at a tenth of the speed of reading: one reader of large files
// keeps both cores busy, and a second one's slab would only hold blocks
// waiting for their turn. On the 1 GiB mixed corpus: peak RSS 109 MiB
// instead of 118 (restic 230), 6% more wall time (7.01-7.07 s against
// 6.59-6.64 s in the runs where the VM's CPU ran at the same speed).
func largeFileReaders(mode repo.CompressionMode, compressesData bool) int {
	if mode == repo.CompressionMax && compressesData {
		return 1
	}
	return 0
}

// scanGrace is how long a backup that is done waits for its scan before
// it stops it. restic stops its scan when the backup is done too, but
// starts it earlier and finishes a small backup later: without a moment's
// grace, a backup of a few files on a loaded machine sometimes ended
// before its scan had reported the items it could not read.
const scanGrace = 100 * time.Millisecond

// waitScan waits for scan, or for at most grace.
func waitScan(scan *sync.WaitGroup, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		scan.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
