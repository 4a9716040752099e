package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/backend/connect"
	"github.com/arca-backup/arca/backend/transport"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
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
	return decodeText(buf), nil
}

// decodeText turns a text file's bytes into a string: a UTF-8 byte order
// mark is dropped, UTF-16 (with its mark) is converted.
func decodeText(buf []byte) string {
	switch {
	case bytes.HasPrefix(buf, []byte{0xef, 0xbb, 0xbf}):
		buf = buf[3:]
	case bytes.HasPrefix(buf, []byte{0xff, 0xfe}), bytes.HasPrefix(buf, []byte{0xfe, 0xff}):
		buf = decodeUTF16(buf)
	}
	return string(buf)
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

// readPassword returns the repository password: from --password-command,
// --password-file or RESTIC_PASSWORD (resolvePassword), else from
// standard input (askPassword), as restic's readPassword.
func (a *app) readPassword(ctx context.Context, prompt string) (string, error) {
	pw, err := a.resolvePassword(ctx)
	if err != nil {
		return "", err
	}
	return a.passwordOrAsk(pw, prompt)
}

// passwordOrAsk checks a password from the options against
// --insecure-no-password, or asks for one when there is none.
func (a *app) passwordOrAsk(pw, prompt string) (string, error) {
	if a.opts.InsecureNoPassword {
		if pw != "" {
			return "", fatalf("--insecure-no-password must not be specified together with providing a password via a cli option or environment variable")
		}
		return "", nil
	}
	if pw != "" {
		return pw, nil
	}
	return a.askPassword(prompt)
}

// knownPassword returns the password readPassword will return when it
// comes from the options and needs no prompt.
func (a *app) knownPassword() (string, bool) {
	p := a.password
	switch {
	case !p.resolved || p.err != nil:
		return "", false
	case a.opts.InsecureNoPassword:
		return "", p.value == ""
	}
	return p.value, p.value != ""
}

// passwordState is the outcome of resolvePassword, kept for the run.
type passwordState struct {
	resolved bool
	value    string
	err      error
}

// resolvePassword runs --password-command or reads --password-file, else
// takes RESTIC_PASSWORD, once per run. restic does this before every
// command that needs a password starts (see needsPassword), so its
// errors come before any other.
func (a *app) resolvePassword(ctx context.Context) (string, error) {
	if !a.password.resolved {
		a.password.resolved = true
		a.password.value, a.password.err = a.passwordFrom(ctx, "RESTIC_PASSWORD")
		if a.password.err != nil {
			a.password.err = fatalf("Resolving password failed: %v", a.password.err)
		}
	}
	return a.password.value, a.password.err
}

// passwordFrom returns the password --password-command prints or
// --password-file holds (trimmed), else the environment variable envName;
// "" when none gives one. Errors read as restic's, whose fatal errors
// carry their "Fatal: " inside the message.
func (a *app) passwordFrom(ctx context.Context, envName string) (string, error) {
	o := &a.opts
	switch {
	case o.PasswordFile != "" && o.PasswordCommand != "":
		return "", errors.New("Fatal: Password file and command are mutually exclusive options")
	case o.PasswordCommand != "":
		args, err := backend.SplitShellStrings(o.PasswordCommand)
		if err != nil {
			return "", err
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stderr = a.stderr
		out, err := cmd.Output()
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(out)), nil
	case o.PasswordFile != "":
		buf, err := os.ReadFile(o.PasswordFile)
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("Fatal: %s does not exist", o.PasswordFile)
		}
		if err != nil {
			return "", fmt.Errorf("Readfile: %w", err)
		}
		return strings.TrimSpace(decodeText(buf)), nil
	}
	return env(envName), nil
}

// needsPassword reports whether restic resolves the password before the
// command named name runs (all but these).
func needsPassword(name string) bool {
	switch name {
	case "cache", "generate", "help", "options", "self-update", "version", "__complete", "__completeNoDesc":
		return false
	}
	return true
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

// backendFor opens the backend for loc through the engine's connect
// package, with the rate limits, retries and TLS settings from the flags.
// With create, a missing repository is not an error.
func (a *app) backendFor(ctx context.Context, loc string, create bool) (backend.Backend, error) {
	opts, err := a.connectOptions()
	if err != nil {
		return nil, err
	}
	open := connect.Open
	if create {
		open = connect.Create
	}
	be, err := open(ctx, loc, opts)
	return be, connectError(err)
}

// connectOptions returns the backend options from the global flags and
// the environment; retries are reported on stderr in restic's words.
func (a *app) connectOptions() (connect.Options, error) {
	xopts, err := a.opts.extendedOptions()
	if err != nil {
		return connect.Options{}, err
	}
	opts := connect.Options{
		Extended: xopts,
		TLS: transport.Options{
			RootCertFiles:     a.opts.CACerts,
			ClientCertKeyFile: a.opts.TLSClientCert,
			InsecureTLS:       a.opts.InsecureTLS,
			UserAgent:         a.opts.HTTPUserAgent,
		},
		LimitUpload:   int64(a.opts.LimitUpload) * 1024,
		LimitDownload: int64(a.opts.LimitDownload) * 1024,
		RESTUsername:  env("RESTIC_REST_USERNAME"),
		RESTPassword:  env("RESTIC_REST_PASSWORD"),
		SubprocessStderr: func(program, line string) {
			fmt.Fprintf(a.stderr, "subprocess %s: %s\n", program, line)
		},
	}
	opts.Retry.StuckTimeout = a.opts.StuckTimeout
	if s := env(envRetryMaxElapsed); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return opts, fatalf("invalid %s %q: want a positive duration such as 2m", envRetryMaxElapsed, s)
		}
		opts.Retry.MaxElapsed = d
	}
	opts.Retry.Report = func(op string, err error, wait time.Duration) {
		if wait >= 0 {
			fmt.Fprintf(a.stderr, "%v returned error, retrying after %v: %v\n", op, wait, err)
		} else {
			fmt.Fprintf(a.stderr, "%v failed: %v\n", op, err)
		}
	}
	opts.Retry.Success = func(op string, retries int) {
		fmt.Fprintf(a.stderr, "%v operation successful after %d retries\n", op, retries)
	}
	return opts, nil
}

// connectError gives the engine's errors about a location restic's form:
// a missing repository keeps its exit code 10, the others are fatal.
func connectError(err error) error {
	var nr *connect.NoRepositoryError
	var ce *connect.Error
	switch {
	case errors.As(err, &nr):
		return fmt.Errorf("Fatal: %w", err)
	case errors.As(err, &ce):
		return &fatalError{msg: ce.Msg, cause: ce}
	}
	return err
}

// extendedOptions returns the -o key=value options as a map, parsed as
// restic parses them.
func (o *globalOptions) extendedOptions() (map[string]string, error) {
	m := make(map[string]string, len(o.Options))
	for _, kv := range o.Options {
		// as restic: "key" alone is an empty value, a key given twice
		// must have the same value
		k, v, _ := strings.Cut(kv, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if k == "" {
			return nil, fatalf("empty key is not a valid option")
		}
		if old, ok := m[k]; ok && old != v {
			return nil, fatalf("key %q present more than once", k)
		}
		m[k] = v
	}
	return m, nil
}

// openEngineRepo opens the repository from the global options as the
// engine's Repository, with the lock timings and --no-lock from the flags.
// Commands call its operations, which take their own locks; the caller
// must Close it.
func (a *app) openEngineRepo(ctx context.Context) (*engine.Repository, error) {
	return a.openEngine(ctx, true, a.newIndexCounter(false))
}

// openKeyEngine is openEngineRepo for the key commands: they search the
// key files in restic's order, without the key file the cache remembers
// (see engine.Options.KnownPassword), because which key opens the
// repository is what they show and change.
func (a *app) openKeyEngine(ctx context.Context) (*engine.Repository, error) {
	return a.openEngine(ctx, false, a.newIndexCounter(false))
}

// openEngine opens the repository from the global options as the engine's
// Repository; with recall, the key the cache remembers is derived while
// it connects. index shows the loading of its index (nil: nothing).
func (a *app) openEngine(ctx context.Context, recall bool, index *indexCounter) (*engine.Repository, error) {
	lockOpts, err := a.lockOptions()
	if err != nil {
		return nil, err
	}
	loc, err := a.opts.repositoryLocation()
	if err != nil {
		return nil, err
	}
	copts, err := a.connectOptions()
	if err != nil {
		return nil, err
	}
	// restic's --compression sets the level of index and snapshot files
	// for every command, not only for the packs of those that write data
	comp, err := repo.ParseCompression(a.opts.Compression)
	if err != nil {
		return nil, fatalf("%v", err)
	}
	var known func() (string, bool)
	if recall {
		known = a.knownPassword
	}
	e, err := engine.Open(ctx, loc, engine.Options{
		Lock:   lockOpts,
		NoLock: a.opts.NoLock,
		PasswordFunc: func(ctx context.Context) (string, error) {
			// restic checks the pack size where it sets up the repository,
			// after finding the backend and before asking for the password
			if err := a.opts.checkPackSize(); err != nil {
				return "", fatalf("%v", err)
			}
			pw, err := a.readPassword(ctx, "enter password for repository: ")
			if err == nil {
				returnFreeMemory()
			}
			return pw, err
		},
		KnownPassword: known,
		RetryPassword: a.retryPassword(),
		KeyHint:       a.opts.KeyHint,
		MaxKeys:       maxKeys,
		Backend:       copts,
		CacheDir:      a.opts.CacheDir,
		NoCache:       a.opts.NoCache,
		Compression:   comp,
		IndexProgress: index.hook(),
	})
	if err != nil {
		return nil, connectError(err)
	}
	r := e.Repo()
	a.reportOpened(r)
	if err := e.CacheError(); err != nil {
		a.warnf("unable to open cache: %v\n", err)
	} else if c := r.Cache(); c != nil {
		a.reportCache(c)
	}
	return e, nil
}

// reportOpened prints restic's line for an opened repository, which it
// shows only on a terminal (at normal verbosity and above).
func (a *app) reportOpened(r *repo.Repository) {
	extra := ""
	if r.Config().Version >= 2 {
		extra = ", compression level " + a.opts.Compression
	}
	a.printTerminal("repository %s opened (version %d%s)\n", r.Config().ID[:8], r.Config().Version, extra)
}

// retryPassword returns the policy for a password that failed: as
// restic, a person typing it at a terminal gets three tries in all, each
// failure but the last followed by restic's "... Try again" line.
func (a *app) retryPassword() func(err error) bool {
	left := 2
	return func(err error) bool {
		prompted := a.stdinIsTerminal() && !a.opts.InsecureNoPassword && a.password.resolved && a.password.err == nil && a.password.value == ""
		if !prompted || left == 0 || a.opts.checkPackSize() != nil {
			return false
		}
		left--
		msg := err.Error()
		var fe *fatalError
		if errors.As(err, &fe) {
			msg = "Fatal: " + fe.msg
		}
		a.warnf("%s. Try again\n", msg)
		return true
	}
}

// printTerminal prints normal output only when stdout is a terminal and
// JSON is off, like restic's messages about the repository and its cache.
func (a *app) printTerminal(format string, args ...any) {
	if a.opts.verbosity() >= 1 && !a.opts.JSON && a.stdoutIsTerminal() {
		a.printf(format, args...)
	}
}

// reportCache tells about the repository's local cache, which the engine
// opened: whether it is new, and old caches of other repositories, which
// --cleanup-cache removes.
func (a *app) reportCache(c *cache.Cache) {
	if c.Created() {
		a.printTerminal("created new cache in %v\n", c.Base())
	}
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

// envRetryMaxElapsed overrides how long a failing backend operation is
// retried (a Go duration; restic's fixed 15 minutes by default), for tests
// and for users who prefer an early error to a long wait.
const envRetryMaxElapsed = "ARCA_RETRY_MAX_ELAPSED"
