package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newLsCommand) }

type lsOptions struct {
	filter        snapshotFilterOptions
	long          bool
	recursive     bool
	humanReadable bool
	ncdu          bool
	sort          lsSortMode
	reverse       bool
}

func newLsCommand(a *app) *cobra.Command {
	var opts lsOptions
	c := &cobra.Command{
		Use:   "ls [flags] snapshotID [dir...]",
		Short: "List files in a snapshot",
		Long: `
The "ls" command lists files and directories in a snapshot.

The special snapshot ID "latest" can be used to list files and
directories of the latest snapshot in the repository. The
--host flag can be used in conjunction to select the latest
snapshot originating from a certain host only.

File listings can optionally be filtered by directories. Any
positional arguments after the snapshot ID are interpreted as
absolute directory paths, and only files inside those directories
will be listed. If the --recursive flag is used, then the filter
will allow traversing into matching directories' subfolders.
Any directory paths specified must be absolute (starting with
a path separator); paths use the forward slash '/' as separator.

File listings can be sorted by specifying --sort followed by one of the
sort specifiers '(name|size|time=mtime|atime|ctime|extension)'.
The sorting can be reversed by specifying --reverse.

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
			return a.runLs(c.Context(), opts, args)
		},
	}
	f := c.Flags()
	opts.filter.addSingle(f)
	f.BoolVarP(&opts.long, "long", "l", false, "use a long listing format showing size and mode")
	f.BoolVar(&opts.recursive, "recursive", false, "include files in subfolders of the listed directories")
	f.BoolVar(&opts.humanReadable, "human-readable", false, "print sizes in human readable format")
	f.BoolVar(&opts.ncdu, "ncdu", false, "output NCDU export format (pipe into 'ncdu -f -')")
	f.VarP(&opts.sort, "sort", "s", "sort output by (name|size|time=mtime|atime|ctime|extension)")
	f.BoolVar(&opts.reverse, "reverse", false, "reverse sorted output")
	return c
}

// lsSortMode is the value of ls --sort.
type lsSortMode string

func (m *lsSortMode) String() string {
	if *m == "" {
		return "name"
	}
	return string(*m)
}

func (m *lsSortMode) Set(s string) error {
	switch s {
	case "name", "size", "atime", "ctime", "mtime", "extension":
		*m = lsSortMode(s)
	case "time":
		*m = "mtime"
	default:
		*m = "invalid"
		return fmt.Errorf("invalid sort mode %q, must be one of (name|size|time=mtime|atime|ctime|extension)", s)
	}
	return nil
}

func (m *lsSortMode) Type() string { return "mode" }

// resolveSnapshotArg finds the snapshot named by a "latest", ID or ID
// prefix argument (each optionally followed by ":subfolder") as restic's
// single-snapshot commands do; the filter applies to "latest".
func resolveSnapshotArg(ctx context.Context, rd *engine.Reader, all []*model.Snapshot, fo snapshotFilterOptions, arg string) (*model.Snapshot, string, error) {
	name, sub, _ := strings.Cut(arg, ":")
	if name == "latest" {
		f := fo.filter()
		sn := latestSnapshot(all, f)
		if sn == nil {
			return nil, "", &repo.NoLatestError{Filter: f}
		}
		return sn, sub, nil
	}
	if id, err := model.ParseID(name); err == nil {
		for _, sn := range all {
			if sn.ID == id {
				return sn, sub, nil
			}
		}
		sn, err := rd.LoadSnapshot(ctx, id)
		if err != nil {
			return nil, "", err
		}
		return sn, sub, nil
	}
	sn, err := snapshotByPrefix(all, name)
	if err != nil {
		return nil, "", err
	}
	return sn, sub, nil
}

// lsPrinter renders ls output; isPrefix marks directories on the way to a
// directory given as argument (printed only by the ncdu format).
type lsPrinter interface {
	snapshot(sn *model.Snapshot) error
	node(path string, n *model.Node, isPrefix bool) error
	leaveDir(path string) error
	close() error
}

func (a *app) runLs(ctx context.Context, opts lsOptions, args []string) error {
	if len(args) == 0 {
		return fatalf("no snapshot ID specified, specify snapshot ID or use special ID 'latest'")
	}
	sorted := opts.sort != "" && opts.sort != "name"
	switch {
	case opts.ncdu && a.opts.JSON:
		return fatalf("only either '--json' or '--ncdu' can be specified")
	case sorted && opts.ncdu:
		return fatalf("--sort and --ncdu are mutually exclusive")
	case opts.reverse && opts.ncdu:
		return fatalf("--reverse and --ncdu are mutually exclusive")
	}
	dirs := args[1:]
	for _, d := range dirs {
		if !strings.HasPrefix(d, "/") {
			return fatalf("All path filters must be absolute, starting with a forward slash '/'")
		}
	}
	// within: the node is inside (or is) one of the dirs; approaching: the
	// node is a directory on the way to one of them
	within := func(p string) bool {
		if len(dirs) == 0 {
			return true
		}
		for _, d := range dirs {
			if hasPathPrefix(d, p) {
				return true
			}
		}
		return false
	}
	approaching := func(p string) bool {
		if len(dirs) == 0 {
			return true
		}
		for _, d := range dirs {
			if hasPathPrefix(p, d) {
				return true
			}
		}
		return false
	}

	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	out := bufio.NewWriterSize(a.stdout, 64<<10)
	defer out.Flush()
	var p lsPrinter
	switch {
	case a.opts.JSON:
		p = &lsJSONPrinter{enc: json.NewEncoder(out)}
	case opts.ncdu:
		p = &lsNcduPrinter{w: out}
	default:
		p = &lsTextPrinter{a: a, w: out, dirs: dirs, long: opts.long, human: opts.humanReadable}
	}
	if sorted || opts.reverse {
		p = &lsSortedPrinter{inner: p, mode: opts.sort, reverse: opts.reverse}
	}

	visitor := walker.Visitor{
		Node: func(_ model.ID, path string, n *model.Node) error {
			if n == nil {
				return nil
			}
			printed := false
			if within(path) {
				if err := p.node(path, n, false); err != nil {
					return err
				}
				printed = true
				if opts.recursive {
					return nil
				}
			}
			if approaching(path) {
				if !printed {
					return p.node(path, n, true)
				}
				return nil
			}
			if n.Type == model.NodeTypeDir {
				if printed {
					if err := p.leaveDir(path); err != nil {
						return err
					}
				}
				return walker.ErrSkipNode
			}
			return nil
		},
		LeaveDir: func(path string) error {
			if path == "/" {
				return nil
			}
			return p.leaveDir(path)
		},
		// directories off the way to the path filters are skipped unseen,
		// without loading their trees
		Enter: func(path string, _ *model.Node) bool { return within(path) || approaching(path) },
	}

	err = e.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		all, err := rd.Snapshots(ctx, a.warnSnapshotLoad)
		if err != nil {
			return err
		}
		sn, sub, err := resolveSnapshotArg(ctx, rd, all, opts.filter, args[0])
		if err != nil {
			return err
		}
		root, err := rd.Subtree(ctx, *sn.Tree, sub)
		if err != nil {
			return err
		}
		shown := *sn
		shown.Tree = &root
		if err := p.snapshot(&shown); err != nil {
			return err
		}
		return rd.Walk(ctx, root, visitor)
	})
	if err != nil {
		return engineError(err)
	}
	if err := p.close(); err != nil {
		return err
	}
	return out.Flush()
}

// hasPathPrefix reports whether p is base or lies below it (both
// slash-separated and absolute).
func hasPathPrefix(base, p string) bool {
	base, p = filepath.Clean(base), filepath.Clean(p)
	if filepath.IsAbs(base) != filepath.IsAbs(p) {
		return false
	}
	if base == p {
		return true
	}
	for {
		dir := filepath.Dir(p)
		if dir == base {
			return true
		}
		if dir == p {
			return false
		}
		p = dir
	}
}

// formatNode renders a node as restic's ls and find do: the path, or with
// long the mode, uid, gid, size, mtime, path and symlink target.
func formatNode(path string, n *model.Node, long, human bool) string {
	if !long {
		return path
	}
	var size string
	if human {
		size = formatBytes(n.Size)
	} else {
		size = fmt.Sprintf("%6d", n.Size)
	}
	var mode os.FileMode
	target := ""
	switch n.Type {
	case model.NodeTypeDir:
		mode = os.ModeDir
	case model.NodeTypeSymlink:
		mode = os.ModeSymlink
		target = " -> " + n.LinkTarget
	case model.NodeTypeDev:
		mode = os.ModeDevice
	case model.NodeTypeCharDev:
		mode = os.ModeDevice | os.ModeCharDevice
	case model.NodeTypeFifo:
		mode = os.ModeNamedPipe
	case model.NodeTypeSocket:
		mode = os.ModeSocket
	}
	return fmt.Sprintf("%s %5d %5d %s %s %s%s", mode|n.Mode, n.UID, n.GID, size,
		n.ModTime.Local().Format(timeFormat), path, target)
}

// lsTextPrinter prints restic's default and --long listing.
type lsTextPrinter struct {
	a           *app
	w           io.Writer
	dirs        []string
	long, human bool
}

func (p *lsTextPrinter) snapshot(sn *model.Snapshot) error {
	if p.a.opts.verbosity() < 1 {
		return nil
	}
	dirs := p.dirs
	if len(dirs) == 0 {
		dirs = nil
	}
	_, err := fmt.Fprintf(p.w, "snapshot %s of %v at %s by %s@%s filtered by %v:\n",
		sn.ID.Str(), sn.Paths, sn.Time, sn.Username, sn.Hostname, dirs)
	return err
}

func (p *lsTextPrinter) node(path string, n *model.Node, isPrefix bool) error {
	if isPrefix {
		return nil
	}
	_, err := fmt.Fprintln(p.w, formatNode(path, n, p.long, p.human))
	return err
}

func (p *lsTextPrinter) leaveDir(string) error { return nil }
func (p *lsTextPrinter) close() error          { return nil }

// lsJSONPrinter prints one JSON message per line: the snapshot, then the
// nodes. Like restic it escapes HTML characters.
type lsJSONPrinter struct {
	enc *json.Encoder
}

func (p *lsJSONPrinter) snapshot(sn *model.Snapshot) error {
	id := sn.ID
	return p.enc.Encode(struct {
		*model.Snapshot
		ID          *model.ID `json:"id"`
		ShortID     string    `json:"short_id"`
		MessageType string    `json:"message_type"`
		StructType  string    `json:"struct_type"`
	}{sn, &id, id.Str(), "snapshot", "snapshot"})
}

func (p *lsJSONPrinter) node(path string, n *model.Node, isPrefix bool) error {
	if isPrefix {
		return nil
	}
	return p.enc.Encode(newLsNodeJSON(path, n))
}

func (p *lsJSONPrinter) leaveDir(string) error { return nil }
func (p *lsJSONPrinter) close() error          { return nil }

// lsNodeJSON is restic's ls node message.
type lsNodeJSON struct {
	Name        string      `json:"name"`
	Type        string      `json:"type"`
	Path        string      `json:"path"`
	UID         uint32      `json:"uid"`
	GID         uint32      `json:"gid"`
	Size        *uint64     `json:"size,omitempty"`
	Mode        os.FileMode `json:"mode,omitempty"`
	Permissions string      `json:"permissions,omitempty"`
	ModTime     time.Time   `json:"mtime,omitempty"`
	AccessTime  time.Time   `json:"atime,omitempty"`
	ChangeTime  time.Time   `json:"ctime,omitempty"`
	Inode       uint64      `json:"inode,omitempty"`
	MessageType string      `json:"message_type"`
	StructType  string      `json:"struct_type"`
}

func newLsNodeJSON(path string, n *model.Node) *lsNodeJSON {
	j := &lsNodeJSON{
		Name:        n.Name,
		Type:        string(n.Type),
		Path:        path,
		UID:         n.UID,
		GID:         n.GID,
		Mode:        n.Mode,
		Permissions: n.Mode.String(),
		ModTime:     n.ModTime,
		AccessTime:  n.AccessTime,
		ChangeTime:  n.ChangeTime,
		Inode:       n.Inode,
		MessageType: "node",
		StructType:  "node",
	}
	// the size of files is always shown, even when 0; never for others
	if n.Type == model.NodeTypeFile {
		size := n.Size
		j.Size = &size
	}
	return j
}

// lsNcduPrinter writes the ncdu JSON export format (version 1.2):
// [1, 2, {snapshot}, [{"name":"/"}, node, [dir, ...], ...]].
type lsNcduPrinter struct {
	w     io.Writer
	depth int
}

func (p *lsNcduPrinter) snapshot(sn *model.Snapshot) error {
	b, err := json.Marshal(sn)
	if err != nil {
		return err
	}
	p.depth++
	_, err = fmt.Fprintf(p.w, "[%d, %d, %s, [{\"name\":\"/\"}", 1, 2, b)
	return err
}

type ncduNode struct {
	Name   string `json:"name"`
	Asize  uint64 `json:"asize"`
	Dsize  uint64 `json:"dsize"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	NLink  uint64 `json:"nlink"`
	NotReg bool   `json:"notreg"`
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
	Mode   uint16 `json:"mode"`
	Mtime  int64  `json:"mtime"`
}

func (p *lsNcduPrinter) node(_ string, n *model.Node, _ bool) error {
	const blockSize = 512
	nn := ncduNode{
		Name:   n.Name,
		Asize:  n.Size,
		Dsize:  (n.Size + blockSize - 1) / blockSize * blockSize,
		Dev:    n.DeviceID,
		Ino:    n.Inode,
		NLink:  n.Links,
		NotReg: n.Type != model.NodeTypeDir && n.Type != model.NodeTypeFile,
		UID:    n.UID,
		GID:    n.GID,
		Mode:   uint16(n.Mode & os.ModePerm),
		Mtime:  max(n.ModTime.Unix(), 0), // ncdu refuses negative times
	}
	if n.Mode&os.ModeSetuid != 0 {
		nn.Mode |= 0o4000
	}
	if n.Mode&os.ModeSetgid != 0 {
		nn.Mode |= 0o2000
	}
	if n.Mode&os.ModeSticky != 0 {
		nn.Mode |= 0o1000
	}
	b, err := json.Marshal(nn)
	if err != nil {
		return err
	}
	if n.Type == model.NodeTypeDir {
		_, err = fmt.Fprintf(p.w, ",\n%s[\n%s%s", strings.Repeat("  ", p.depth), strings.Repeat("  ", p.depth+1), b)
		p.depth++
		return err
	}
	_, err = fmt.Fprintf(p.w, ",\n%s%s", strings.Repeat("  ", p.depth), b)
	return err
}

func (p *lsNcduPrinter) leaveDir(string) error {
	p.depth--
	_, err := fmt.Fprintf(p.w, "\n%s]", strings.Repeat("  ", p.depth))
	return err
}

func (p *lsNcduPrinter) close() error {
	_, err := io.WriteString(p.w, "\n]\n]\n")
	return err
}

// lsSortedPrinter collects the listed nodes and prints them sorted at the
// end (restic does not close the inner printer).
type lsSortedPrinter struct {
	inner   lsPrinter
	mode    lsSortMode
	reverse bool
	items   []lsItem
}

type lsItem struct {
	path string
	node *model.Node
}

func (p *lsSortedPrinter) snapshot(sn *model.Snapshot) error { return p.inner.snapshot(sn) }

func (p *lsSortedPrinter) node(path string, n *model.Node, isPrefix bool) error {
	if !isPrefix {
		p.items = append(p.items, lsItem{path, n})
	}
	return nil
}

func (p *lsSortedPrinter) leaveDir(string) error { return nil }

func (p *lsSortedPrinter) close() error {
	var by func(a, b lsItem) int
	switch p.mode {
	case "size":
		by = func(a, b lsItem) int { return cmp.Compare(a.node.Size, b.node.Size) }
	case "mtime":
		by = func(a, b lsItem) int { return a.node.ModTime.Compare(b.node.ModTime) }
	case "atime":
		by = func(a, b lsItem) int { return a.node.AccessTime.Compare(b.node.AccessTime) }
	case "ctime":
		by = func(a, b lsItem) int { return a.node.ChangeTime.Compare(b.node.ChangeTime) }
	case "extension":
		by = func(a, b lsItem) int { return cmp.Compare(filepath.Ext(a.path), filepath.Ext(b.path)) }
	}
	if by != nil {
		slices.SortStableFunc(p.items, func(a, b lsItem) int {
			return cmp.Or(by(a, b), cmp.Compare(a.path, b.path))
		})
	}
	if p.reverse {
		slices.Reverse(p.items)
	}
	for _, it := range p.items {
		if err := p.inner.node(it.path, it.node, false); err != nil {
			return err
		}
	}
	return nil
}
