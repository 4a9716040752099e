//go:build !linux

package archiver

import "os"

// readDir lists the directory open as d.
func readDir(d *os.File) (dirEntries, error) {
	entries, err := d.ReadDir(-1)
	if err != nil {
		return dirEntries{}, err
	}
	var l dirListing
	for _, e := range entries {
		l.add([]byte(e.Name()), e.Type().IsRegular())
	}
	return l.sorted(), nil
}
