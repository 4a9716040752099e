package archiver

import (
	"slices"
	"strings"
)

// dirEntries is a directory's listing, sorted by name, in a compact form:
// the names of all entries in one string, and per entry where its name
// ends and whether the listing gives it as a regular file. A directory of
// 17,844 files (/usr/share/man/man1) takes 0.8 MB this way, against 3.6
// MB as os.DirEntry values, and the listing is in memory while the
// directory's entries are visited.
type dirEntries struct {
	names   string
	entries []dirEntry
}

type dirEntry struct {
	start, end uint32 // the name is names[start:end]
	regular    bool
}

func (d *dirEntries) len() int { return len(d.entries) }

func (d *dirEntries) name(i int) string {
	e := d.entries[i]
	return d.names[e.start:e.end]
}

func (d *dirEntries) regular(i int) bool { return d.entries[i].regular }

// dirListing collects a directory's entries as they are read.
type dirListing struct {
	names   []byte
	entries []dirEntry
}

func (l *dirListing) add(name []byte, regular bool) {
	if string(name) == "." || string(name) == ".." {
		return
	}
	start := len(l.names)
	l.names = append(l.names, name...)
	l.entries = append(l.entries, dirEntry{start: uint32(start), end: uint32(len(l.names)), regular: regular})
}

// sorted returns the entries sorted by name.
func (l *dirListing) sorted() dirEntries {
	d := dirEntries{names: string(l.names), entries: slices.Clip(l.entries)}
	slices.SortFunc(d.entries, func(x, y dirEntry) int {
		return strings.Compare(d.names[x.start:x.end], d.names[y.start:y.end])
	})
	return d
}
