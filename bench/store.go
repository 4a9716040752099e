package main

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/arca-backup/arca/backend/connect"
)

// store is the kind of repository the scenarios use: local directories or
// repositories on one of the test servers (scripts/testservers). Both
// programs get the same repository string and options.
type store struct {
	kind string
	// base is the repository string under which every repository of the
	// run gets its own name.
	base string
	// localDir is the directory on this machine holding base's files, for
	// measuring repository sizes; "" when unknown.
	localDir string
	// opts are what opening the store's repositories needs beyond the
	// location (sftp.command, a CA file); the programs get them as global
	// options (resticArgs), the harness uses them itself (copyRepo).
	opts connect.Options
}

var storeKinds = []string{"local", "s3", "sftp", "rest"}

// newStore sets up the repository kind. Remote kinds read the variables
// printed by scripts/testservers/start-*.sh.
func newStore(kind, workDir, runID string) (*store, error) {
	need := func(vars ...string) error {
		for _, v := range vars {
			if os.Getenv(v) == "" {
				return fmt.Errorf("-backend %s needs %s (eval \"$(scripts/testservers/start-%s.sh)\")", kind, v, kind)
			}
		}
		return nil
	}
	sub := "arca-bench-" + runID
	switch kind {
	case "local":
		d := filepath.Join(workDir, "repos")
		return &store{kind: kind, base: d, localDir: d}, nil
	case "s3":
		if err := need("S3_REPOSITORY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"); err != nil {
			return nil, err
		}
		s := &store{kind: kind, base: os.Getenv("S3_REPOSITORY") + "/" + sub}
		if d := os.Getenv("S3_DATA_DIR"); d != "" && os.Getenv("S3_SERVER") != "minio" {
			// versitygw's posix backend keeps one file per object
			s.localDir = filepath.Join(d, os.Getenv("S3_BUCKET"), os.Getenv("S3_PREFIX"), sub)
		}
		if ca := os.Getenv("S3_CA_CERT"); ca != "" {
			s.opts.TLS.RootCertFiles = []string{ca}
		}
		return s, nil
	case "sftp":
		if err := need("SFTP_REPOSITORY", "SFTP_COMMAND"); err != nil {
			return nil, err
		}
		r := os.Getenv("SFTP_REPOSITORY") // sftp:host:/abs/path
		s := &store{kind: kind, base: r + "/" + sub, opts: connect.Options{Extended: map[string]string{"sftp.command": os.Getenv("SFTP_COMMAND")}}}
		if i := strings.LastIndex(r, ":"); i >= 0 && filepath.IsAbs(r[i+1:]) {
			s.localDir = filepath.Join(r[i+1:], sub)
		}
		return s, nil
	case "rest":
		if err := need("REST_REPOSITORY"); err != nil {
			return nil, err
		}
		r := strings.TrimSuffix(os.Getenv("REST_REPOSITORY"), "/")
		s := &store{kind: kind, base: r + "/" + sub}
		if root := os.Getenv("REST_ROOT"); root != "" {
			if i := strings.Index(strings.TrimPrefix(r, "rest:"), "://"); i >= 0 {
				u := strings.TrimPrefix(r, "rest:")[i+3:]
				if j := strings.Index(u, "/"); j >= 0 {
					s.localDir = filepath.Join(root, filepath.FromSlash(u[j+1:]), sub)
				}
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown backend %q (have %s)", kind, strings.Join(storeKinds, ", "))
}

func (s *store) local() bool { return s.kind == "local" }

// resticArgs returns opts as global options of a restic command line
// (--cacert FILE, -o key=value).
func (s *store) resticArgs() []string {
	var args []string
	for _, f := range s.opts.TLS.RootCertFiles {
		args = append(args, "--cacert", f)
	}
	for _, k := range slices.Sorted(maps.Keys(s.opts.Extended)) {
		args = append(args, "-o", k+"="+s.opts.Extended[k])
	}
	return args
}

// location is the repository string of the repository called name.
func (s *store) location(name string) string {
	if s.local() {
		return filepath.Join(s.base, filepath.FromSlash(name))
	}
	return s.base + "/" + path.Clean(name)
}

// size returns the bytes stored for repository name, if it can be measured.
func (s *store) size(name string) (int64, bool) {
	d, ok := s.dir(name)
	if !ok {
		return 0, false
	}
	return dirSize(d), true
}

// dir returns the directory on this machine holding repository name's
// files, if known.
func (s *store) dir(name string) (string, bool) {
	if s.localDir == "" {
		return "", false
	}
	return filepath.Join(s.localDir, filepath.FromSlash(name)), true
}

// remove deletes repository name where its files are reachable.
func (s *store) remove(name string) {
	if d, ok := s.dir(name); ok {
		_ = os.RemoveAll(d)
	}
}

// dirSize returns the bytes of all files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
