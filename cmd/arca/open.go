package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/backend/limiter"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/repo"
	"golang.org/x/term"
)

// maxKeys is how many key files restic tries before giving up.
const maxKeys = 20

// repositoryLocation returns the repository string from -r,
// --repository-file or the environment.
func (o *globalOptions) repositoryLocation() (string, error) {
	if o.Repo == "" && o.RepositoryFile == "" {
		return "", fatalf("Please specify repository location (-r or --repository-file)")
	}
	if o.RepositoryFile == "" {
		return o.Repo, nil
	}
	if o.Repo != "" {
		return "", fatalf("Options -r and --repository-file are mutually exclusive, please specify only one")
	}
	buf, err := readTextFile(o.RepositoryFile)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(buf), nil
}

// readTextFile reads a small text file, dropping a UTF-8 byte order mark
// and decoding UTF-16 with a BOM, as restic does for password files.
func readTextFile(name string) (string, error) {
	buf, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return "", fatalf("%s does not exist", name)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	switch {
	case bytes.HasPrefix(buf, []byte{0xef, 0xbb, 0xbf}):
		buf = buf[3:]
	case bytes.HasPrefix(buf, []byte{0xff, 0xfe}), bytes.HasPrefix(buf, []byte{0xfe, 0xff}):
		buf = decodeUTF16(buf)
	}
	return string(buf), nil
}

func decodeUTF16(b []byte) []byte {
	little := b[0] == 0xff
	b = b[2:]
	var out []byte
	for i := 0; i+1 < len(b); i += 2 {
		var r rune
		if little {
			r = rune(b[i]) | rune(b[i+1])<<8
		} else {
			r = rune(b[i])<<8 | rune(b[i+1])
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// readPassword returns the repository password from --password-command,
// --password-file, RESTIC_PASSWORD, or a terminal prompt. Standard input
// is never read when it is not a terminal.
func (a *app) readPassword(ctx context.Context, prompt string) (string, error) {
	o := &a.opts
	if o.PasswordFile != "" && o.PasswordCommand != "" {
		return "", fatalf("Password file and command are mutually exclusive options")
	}
	var pw string
	switch {
	case o.PasswordCommand != "":
		args := strings.Fields(o.PasswordCommand)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stderr = a.stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("password command %q failed: %w", o.PasswordCommand, err)
		}
		pw = strings.TrimSpace(string(out))
	case o.PasswordFile != "":
		s, err := readTextFile(o.PasswordFile)
		if err != nil {
			return "", err
		}
		pw = strings.TrimSpace(s)
	default:
		pw = env("RESTIC_PASSWORD")
	}
	if o.InsecureNoPassword {
		if pw != "" {
			return "", fatalf("--insecure-no-password must not be specified together with providing a password via a cli option or environment variable")
		}
		return "", nil
	}
	if pw != "" {
		return pw, nil
	}
	if o.PasswordFile != "" || o.PasswordCommand != "" {
		return "", fatalf("an empty password is not allowed by default. Pass the flag `--insecure-no-password` to restic to disable this check")
	}
	if !a.stdinIsTerminal() {
		return "", fatalf("no password given: set RESTIC_PASSWORD, RESTIC_PASSWORD_FILE or RESTIC_PASSWORD_COMMAND, or use --password-file/--password-command (standard input is not a terminal, so arca does not prompt)")
	}
	fmt.Fprint(a.stderr, prompt)
	f := a.stdin.(*os.File)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("unable to read password: %w", err)
	}
	if len(b) == 0 {
		return "", fatalf("an empty password is not allowed by default. Pass the flag `--insecure-no-password` to restic to disable this check")
	}
	return string(b), nil
}

// openBackend opens the backend named by the repository location; the
// repository must exist there.
func (a *app) openBackend(ctx context.Context, loc string) (backend.Backend, error) {
	return a.backendFor(ctx, loc, false)
}

// createBackend returns the backend for a new repository at loc without
// requiring a config file there (repo.Create prepares the location).
func (a *app) createBackend(ctx context.Context, loc string) (backend.Backend, error) {
	return a.backendFor(ctx, loc, true)
}

// backendFor opens the backend for loc, wrapped in the rate limiter and
// the retries. With create, a missing repository is not an error.
func (a *app) backendFor(ctx context.Context, loc string, create bool) (backend.Backend, error) {
	l, err := location.Parse(loc)
	if err != nil {
		return nil, fatalf("%v", err)
	}
	if err := l.CheckImplemented(); err != nil {
		return nil, fatalf("%v", err)
	}
	xopts, err := a.opts.extendedOptions()
	if err != nil {
		return nil, err
	}
	_ = xopts // read by the remote backends
	var be backend.Backend
	switch cfg := l.Config.(type) {
	case *location.LocalConfig:
		conns, err := localConnections(xopts)
		if err != nil {
			return nil, err
		}
		var lb *local.Backend
		if create {
			lb = local.New(cfg.Path)
		} else if lb, err = local.Open(ctx, cfg.Path); err != nil {
			if errors.Is(err, backend.ErrNoRepository) || errors.Is(err, backend.ErrNotExist) {
				return nil, fmt.Errorf("Fatal: %w: unable to open config file: %v\nIs there a repository at the following location?\n%v", repo.ErrNoRepository, configStatError(err), l.String())
			}
			return nil, err
		}
		lb.SetConnections(conns)
		be = lb
	case *location.S3Config:
		be, err = a.openS3Backend(ctx, l, cfg, xopts, create)
		if err != nil {
			return nil, err
		}
	case *location.SFTPConfig:
		be, err = a.openSFTP(ctx, l, cfg, xopts, create)
		if err != nil {
			return nil, err
		}
	case *location.RESTConfig:
		be, err = a.restBackend(ctx, cfg, xopts, create, l.String())
		if err != nil {
			return nil, err
		}
	default:
		return nil, fatalf("backend %q is not supported yet", l.Scheme)
	}
	be = a.withRetries(limiter.Wrap(be, int64(a.opts.LimitUpload)*1024, int64(a.opts.LimitDownload)*1024))
	// the S3 and SFTP backends check for the config file when they open
	if !create && l.Scheme == "rest" {
		if err := checkRepositoryConfig(ctx, be, l.String()); err != nil {
			be.Close()
			return nil, err
		}
	}
	return be, nil
}

// localConnections reads -o local.connections (0: the default) and
// refuses other local.* options, as restic does.
func localConnections(xopts map[string]string) (uint, error) {
	var n uint64
	for k, v := range xopts {
		name, ok := strings.CutPrefix(k, "local.")
		if !ok {
			continue
		}
		if name != "connections" {
			return 0, fatalf("option %s is not known", k)
		}
		var err error
		if n, err = strconv.ParseUint(v, 10, 32); err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, fatalf("option local.connections must be a positive number")
		}
	}
	return uint(n), nil
}

// extendedOptions returns the -o key=value options as a map; a key given
// twice keeps its last value, as in restic.
func (o *globalOptions) extendedOptions() (map[string]string, error) {
	m := make(map[string]string, len(o.Options))
	for _, kv := range o.Options {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fatalf("invalid option %q, must be key=value", kv)
		}
		m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return m, nil
}

// openRepository opens the repository from the global options, asking for
// the password as needed. The caller must Close it.
func (a *app) openRepository(ctx context.Context) (*repo.Repository, error) {
	return a.openRepositoryWrapped(ctx, nil)
}

// openRepositoryWrapped is openRepository with the backend passed through
// wrap (when not nil) before the repository is opened on it.
func (a *app) openRepositoryWrapped(ctx context.Context, wrap func(backend.Backend) backend.Backend) (*repo.Repository, error) {
	loc, err := a.opts.repositoryLocation()
	if err != nil {
		return nil, err
	}
	be, err := a.openBackend(ctx, loc)
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		be = wrap(be)
	}
	pw, err := a.readPassword(ctx, "enter password for repository: ")
	if err != nil {
		be.Close()
		return nil, err
	}
	r, err := repo.Open(ctx, be, pw, repo.OpenOptions{KeyHint: a.opts.KeyHint, MaxKeys: maxKeys})
	if err != nil {
		be.Close()
		return nil, err
	}
	// restic prints this only to a terminal (at normal verbosity and above)
	extra := ""
	if r.Config().Version >= 2 {
		extra = ", compression level " + a.opts.Compression
	}
	a.printTerminal("repository %s opened (version %d%s)\n", r.Config().ID[:8], r.Config().Version, extra)
	if isRemote(loc) && !a.opts.NoCache {
		a.setupCache(r)
	}
	return r, nil
}

// printTerminal prints normal output only when stdout is a terminal and
// JSON is off, like restic's messages about the repository and its cache.
func (a *app) printTerminal(format string, args ...any) {
	if a.opts.verbosity() >= 1 && !a.opts.JSON && a.stdoutIsTerminal() {
		a.printf(format, args...)
	}
}

// isRemote reports whether loc is a repository on another machine, for
// which arca keeps a local cache. A local repository gains nothing from a
// second copy of its metadata on the same disk.
func isRemote(loc string) bool {
	l, err := location.Parse(loc)
	return err == nil && l.Scheme != "local"
}

// setupCache opens the repository's local cache and puts it in front of
// the backend; old caches of other repositories are reported or, with
// --cleanup-cache, removed. A cache that cannot be opened only costs speed:
// the command goes on without it.
func (a *app) setupCache(r *repo.Repository) {
	c, err := cache.Open(a.opts.CacheDir, r.Config().ID)
	if err != nil {
		a.warnf("unable to open cache: %v\n", err)
		return
	}
	if c.Created() {
		a.printTerminal("created new cache in %v\n", c.Base())
	}
	r.UseCache(c)
	old, err := cache.Old(c.Base(), cache.MaxAge, time.Now())
	if err != nil {
		a.warnf("unable to find old cache directories: %v\n", err)
	}
	if len(old) == 0 {
		return
	}
	if !a.opts.CleanupCache {
		a.printTerminal("found %d old cache directories in %v, run `restic cache --cleanup` to remove them\n", len(old), c.Base())
		return
	}
	a.printTerminal("removing %d old cache dirs from %v\n", len(old), c.Base())
	for _, d := range old {
		if err := os.RemoveAll(d.Path); err != nil {
			a.warnf("unable to remove %v: %v\n", d.Path, err)
		}
	}
}

// configStatError returns the file-system error behind a missing config
// file ("stat /path/config: no such file or directory"), as restic prints it.
func configStatError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe
	}
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
