package archiver

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// target is one node of the tree of backup targets. A leaf has path set:
// the file or directory found there is stored at this place. An inner node
// stands for a directory above the targets; its metadata is read from
// infoPath and only its listed children are stored.
type target struct {
	children map[string]*target
	path     string // leaf: where the item is
	infoPath string // inner node: the directory whose metadata is used
	root     string // directory holding the first path component
	explicit bool   // the user named this path
}

// components splits a cleaned path into its elements, dropping the root.
func components(p string) []string {
	p = filepath.Clean(p)
	if !filepath.IsAbs(p) {
		p = filepath.Join(string(filepath.Separator), p)
	}
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// rootDir is the directory containing a target's first component: "/" for
// absolute paths, otherwise "." followed by the target's leading "..".
func rootDir(p string) string {
	if filepath.IsAbs(p) {
		return "/"
	}
	rel := "."
	for _, c := range strings.Split(filepath.Clean(p), "/") {
		if c == ".." {
			rel = filepath.Join(rel, c)
		}
	}
	return rel
}

func (t *target) addTop(p string, explicit bool) error {
	pc := components(p)
	if len(pc) == 0 {
		return fmt.Errorf("invalid path %q (no path components)", p)
	}
	if t.children == nil {
		t.children = map[string]*target{}
	}
	root := rootDir(p)
	name := pc[0]
	node := &target{root: root}
	for i := 1; ; i++ {
		other, ok := t.children[name]
		if !ok {
			break
		}
		if other.root == root {
			node = other
			break
		}
		name = fmt.Sprintf("%s-%d", pc[0], i)
	}
	if len(pc) > 1 {
		sub := filepath.Join(root, pc[0])
		if err := node.add(p, sub, pc[1:], explicit); err != nil {
			return err
		}
		node.infoPath = sub
	} else {
		node.path = p
		node.explicit = explicit
	}
	t.children[name] = node
	return nil
}

func (t *target) add(p, dir string, pc []string, explicit bool) error {
	if t.children == nil {
		t.children = map[string]*target{}
	}
	name := pc[0]
	if len(pc) == 1 {
		n, ok := t.children[name]
		if !ok {
			t.children[name] = &target{path: p, explicit: explicit}
			return nil
		}
		if n.path != "" {
			return fmt.Errorf("path is already set for target %v", p)
		}
		n.path, n.explicit = p, explicit
		return nil
	}
	n, ok := t.children[name]
	if !ok {
		n = &target{}
		t.children[name] = n
	}
	sub := filepath.Join(dir, name)
	n.infoPath = sub
	return n.add(p, sub, pc[1:], explicit)
}

// unroll turns leaves that also have children (a target inside another
// target) into inner nodes listing the directory's entries.
func (t *target) unroll() error {
	if t.path != "" && len(t.children) > 0 {
		f, err := os.Open(t.path)
		if err != nil {
			return err
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return err
		}
		for _, name := range names {
			full := filepath.Join(t.path, name)
			if c, ok := t.children[name]; ok {
				if c.path == "" {
					c.path = full
					continue
				}
				if c.path == full {
					continue
				}
				return fmt.Errorf("tree unrollTree: collision on path %q", full)
			}
			t.children[name] = &target{path: full}
		}
		t.infoPath = t.path
		t.path = ""
		t.explicit = false
	}
	for _, c := range t.children {
		if err := c.unroll(); err != nil {
			return err
		}
	}
	return nil
}

func (t *target) leaf() bool { return t.path != "" }

func (t *target) names() []string {
	out := make([]string, 0, len(t.children))
	for n := range t.children {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// buildTargets resolves targets ("." and ".." only paths are replaced by
// their entries) and arranges them in a tree.
func buildTargets(paths []string) (*target, error) {
	var resolved []struct {
		p        string
		explicit bool
	}
	for _, p := range paths {
		p = filepath.Clean(p)
		if len(components(p)) > 0 && !onlyDots(p) {
			resolved = append(resolved, struct {
				p        string
				explicit bool
			}{p, true})
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return nil, err
		}
		sort.Strings(names)
		for _, n := range names {
			resolved = append(resolved, struct {
				p        string
				explicit bool
			}{filepath.Join(p, n), false})
		}
	}
	root := &target{}
	seen := map[string]bool{}
	for _, r := range resolved {
		if seen[r.p] {
			continue
		}
		seen[r.p] = true
		if err := root.addTop(r.p, r.explicit); err != nil {
			return nil, err
		}
	}
	if err := root.unroll(); err != nil {
		return nil, err
	}
	return root, nil
}

// onlyDots reports whether a relative path consists of "." and ".." only,
// which restic replaces by the directory's entries.
func onlyDots(p string) bool {
	if filepath.IsAbs(p) {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c != "." && c != ".." {
			return false
		}
	}
	return true
}
