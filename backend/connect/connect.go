// Package connect turns a repository location string ("/srv/backup",
// "sftp:host:/path", "s3:https://host/bucket", "rest:https://host/") into a
// ready backend.Backend: it parses the location, builds the backend with the
// extended options (-o key=value), the TLS transport and the connection
// limits, and wraps it in the rate limiter and the retries.
//
// Open expects a repository at the location; Create prepares a location for
// a new one (repo.Create writes it). Errors say what went wrong in words a
// user can act on: *NoRepositoryError when the location holds no repository
// (it matches backend.ErrNoRepository with errors.Is) and *Error for an
// invalid location or option or a backend that refused to open.
package connect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/limiter"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/backend/rest"
	"github.com/arca-backup/arca/backend/retry"
	"github.com/arca-backup/arca/backend/s3"
	"github.com/arca-backup/arca/backend/sftp"
	"github.com/arca-backup/arca/backend/transport"
)

// Options configure how a location is opened. The zero value opens a
// location with restic's defaults.
type Options struct {
	// Extended are the backend options restic takes as -o key=value
	// ("s3.region", "sftp.command", "rest.connections", …), with keys in
	// lower case. An option a backend does not know is an *Error.
	Extended map[string]string
	// TLS holds the certificates, TLS verification and User-Agent for the
	// HTTP-based backends (REST, and S3 when any of it is set).
	TLS transport.Options
	// LimitUpload and LimitDownload cap the transfer rate in bytes per
	// second (0: no limit).
	LimitUpload, LimitDownload int64
	// Retry tunes the retries of failed backend operations (zero fields
	// take retry.DefaultOptions). Lock files are tried once unless
	// Retry.TryOnce says otherwise: the lock package retries them itself,
	// within its own deadlines.
	Retry retry.Options
	// NoRetry leaves the backend without the retry wrapper.
	NoRetry bool
	// RESTUsername and RESTPassword are the REST server's credentials when
	// the location does not carry them (restic reads them from
	// RESTIC_REST_USERNAME and RESTIC_REST_PASSWORD).
	RESTUsername, RESTPassword string
	// SubprocessStderr receives the lines a backend's helper process
	// (ssh for SFTP) writes to its standard error. Nil discards them.
	SubprocessStderr func(program, line string)
}

// Error is a failure to open a location whose message is complete for a
// user: a location that cannot be parsed, an unknown or invalid option, a
// server that refused. Err is the underlying error, when there is one.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

func errorf(err error, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Err: err}
}

// NoRepositoryError reports that a location holds no repository (no config
// file). errors.Is(err, backend.ErrNoRepository) is true for it.
type NoRepositoryError struct {
	// Location is the location as it may be shown (password stripped).
	Location string
	// Err is the backend's answer to the look-up of the config file.
	Err    error
	detail string
}

func (e *NoRepositoryError) Error() string {
	return fmt.Sprintf("%v: unable to open config file: %s\nIs there a repository at the following location?\n%v", backend.ErrNoRepository, e.detail, e.Location)
}

// Unwrap returns backend.ErrNoRepository and the backend's error.
func (e *NoRepositoryError) Unwrap() []error { return []error{backend.ErrNoRepository, e.Err} }

// Open returns the backend for the repository at loc; the repository must
// exist there.
func Open(ctx context.Context, loc string, opts Options) (backend.Backend, error) {
	return open(ctx, loc, opts, false)
}

// Create returns the backend for a new repository at loc without requiring
// a repository there; for a REST server it asks the server to create the
// repository first.
func Create(ctx context.Context, loc string, opts Options) (backend.Backend, error) {
	return open(ctx, loc, opts, true)
}

// Shown returns loc in the form that may be printed (no password).
func Shown(loc string) string {
	l, err := location.Parse(loc)
	if err != nil {
		return location.StripPassword(loc)
	}
	return l.String()
}

// IsRemote reports whether loc is a repository on another machine (for
// which a local cache pays off).
func IsRemote(loc string) bool {
	l, err := location.Parse(loc)
	return err == nil && l.Scheme != "local"
}

func open(ctx context.Context, loc string, opts Options, create bool) (backend.Backend, error) {
	l, err := location.Parse(loc)
	if err != nil {
		return nil, errorf(err, "%v", err)
	}
	if err := l.CheckImplemented(); err != nil {
		return nil, errorf(err, "%v", err)
	}
	xopts := opts.Extended
	if xopts == nil {
		xopts = map[string]string{}
	}
	var be backend.Backend
	switch cfg := l.Config.(type) {
	case *location.LocalConfig:
		be, err = openLocal(ctx, l, cfg, xopts, opts, create)
	case *location.S3Config:
		be, err = openS3(ctx, l, cfg, xopts, opts, create)
	case *location.SFTPConfig:
		be, err = openSFTP(ctx, l, cfg, xopts, opts, create)
	case *location.RESTConfig:
		be, err = openREST(ctx, cfg, xopts, opts, create, l.String())
	default:
		return nil, errorf(nil, "backend %q is not supported yet", l.Scheme)
	}
	if err != nil {
		return nil, err
	}
	be = limiter.Wrap(be, opts.LimitUpload, opts.LimitDownload)
	if !opts.NoRetry {
		ro := opts.Retry
		if ro.TryOnce == nil {
			ro.TryOnce = func(t backend.FileType) bool { return t == backend.LockFile }
		}
		be = retry.Wrap(be, ro)
	}
	// the local and SFTP backends check for the config file when they
	// open; for REST and S3 the check goes through the retries, as in
	// restic (a server that is down for a while is waited for)
	if !create {
		var describe func(error) string
		switch l.Scheme {
		case "rest":
			describe = error.Error
		case "s3":
			describe = func(err error) string {
				if errors.Is(err, context.Canceled) {
					return err.Error()
				}
				return "Stat: " + s3.Describe(err)
			}
		}
		if describe != nil {
			if err := checkConfig(ctx, be, l.String(), describe); err != nil {
				be.Close()
				return nil, err
			}
		}
	}
	return be, nil
}

func openLocal(ctx context.Context, l location.Location, cfg *location.LocalConfig, xopts map[string]string, opts Options, create bool) (backend.Backend, error) {
	conns, err := localConnections(xopts)
	if err != nil {
		return nil, err
	}
	var lb *local.Backend
	if create {
		lb = local.New(cfg.Path)
	} else if lb, err = local.Open(ctx, cfg.Path); err != nil {
		if errors.Is(err, backend.ErrNoRepository) || errors.Is(err, backend.ErrNotExist) {
			return nil, noRepository(l.String(), err, statError(err).Error())
		}
		// restic's words: its backend's report of the failed stat (which
		// restic retries for a quarter of an hour when the error is not
		// permission denied; arca does not), then the error
		if opts.Retry.Report != nil && !opts.NoRetry {
			opts.Retry.Report("Stat(<config/>)", err, -1)
		}
		return nil, errorf(err, "unable to open config file: %v\n%v", err, l.String())
	}
	lb.SetConnections(conns)
	return lb, nil
}

// localConnections reads -o local.connections (0: the default) and refuses
// other local.* options, as restic does.
func localConnections(xopts map[string]string) (uint, error) {
	var n uint64
	for k, v := range xopts {
		name, ok := strings.CutPrefix(k, "local.")
		if !ok {
			continue
		}
		if name != "connections" {
			return 0, errorf(nil, "option %s is not known", k)
		}
		var err error
		if n, err = strconv.ParseUint(v, 10, 32); err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, errorf(nil, "option local.connections must be a positive number")
		}
	}
	return uint(n), nil
}

func openS3(ctx context.Context, l location.Location, loc *location.S3Config, xopts map[string]string, opts Options, create bool) (backend.Backend, error) {
	cfg, err := s3.NewConfig(loc, xopts)
	if errors.Is(err, s3.ErrUnknownOption) {
		return nil, errorf(err, "%v", err)
	}
	if err != nil {
		return nil, errorf(err, "unable to open repository at %s: %v", l.String(), err)
	}
	// Without TLS options the SDK's own transport is used: it honours
	// the SDK's settings, AWS_CA_BUNDLE for HTTPS endpoints among them.
	t := opts.TLS
	if len(t.RootCertFiles) > 0 || t.ClientCertKeyFile != "" || t.InsecureTLS || t.UserAgent != "" {
		if cfg.Transport, err = httpTransport(t); err != nil {
			return nil, err
		}
	}
	be, err := s3.New(ctx, cfg) // (open checks for the config file)
	if err != nil {
		return nil, errorf(err, "unable to open repository at %s: %v", l.String(), err)
	}
	return be, nil
}

func openSFTP(ctx context.Context, l location.Location, lc *location.SFTPConfig, xopts map[string]string, opts Options, create bool) (backend.Backend, error) {
	cfg := sftp.ConfigFromLocation(lc)
	if err := cfg.ApplyOptions(xopts); err != nil {
		return nil, errorf(err, "%v", err)
	}
	program := "ssh"
	if cfg.Command != "" {
		if words, err := backend.SplitShellStrings(cfg.Command); err == nil && len(words) > 0 {
			program = words[0]
		}
	}
	if report := opts.SubprocessStderr; report != nil {
		cfg.StderrLine = func(line string) { report(program, line) }
	}
	be, err := sftp.Open(ctx, cfg)
	if err != nil {
		return nil, errorf(err, "unable to open repository at %v: %v", l.String(), err)
	}
	if create {
		return be, nil
	}
	if _, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil {
		be.Close()
		if backend.IsNotExist(err) {
			return nil, noRepository(l.String(), err, statError(err).Error())
		}
		return nil, errorf(err, "unable to open repository at %v: %v", l.String(), err)
	}
	return be, nil
}

// openREST returns the backend for a "rest:" location. With create it makes
// the repository on the server first, as restic does before any retries
// are set up, so a refused request is reported once.
func openREST(ctx context.Context, cfg *location.RESTConfig, xopts map[string]string, opts Options, create bool, shown string) (backend.Backend, error) {
	c := rest.FromLocation(cfg)
	c.SetCredentials(opts.RESTUsername, opts.RESTPassword)
	for key, value := range xopts {
		name, ok := strings.CutPrefix(key, "rest.")
		if !ok {
			continue
		}
		switch name {
		case "connections":
			n, err := strconv.ParseUint(value, 0, 32)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				c.Connections = uint(n)
			}
		default:
			return nil, errorf(nil, "option %v is not known", key)
		}
	}
	rt, err := httpTransport(opts.TLS)
	if err != nil {
		return nil, err
	}
	c.Transport = rt
	be, err := rest.New(c)
	if err != nil {
		return nil, errorf(err, "%v", err)
	}
	if create {
		if err := be.Create(ctx); err != nil {
			return nil, errorf(err, "create repository at %s failed: %v", shown, err)
		}
	}
	return be, nil
}

func httpTransport(o transport.Options) (http.RoundTripper, error) {
	rt, err := transport.New(o)
	if err != nil {
		return nil, errorf(err, "%v", err)
	}
	return rt, nil
}

// checkConfig makes sure a remote repository has a config file: a missing
// one means there is no repository, any other failure (such as refused
// credentials) is an *Error.
func checkConfig(ctx context.Context, be backend.Backend, shown string, describe func(error) string) error {
	fi, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	switch {
	case backend.IsNotExist(err):
		return noRepository(shown, err, describe(err))
	case err != nil:
		return errorf(err, "unable to open config file: %v\n%v", describe(err), shown)
	case fi.Size == 0:
		return errorf(nil, "config file has zero size, invalid repository?")
	}
	return nil
}

func noRepository(shown string, err error, detail string) *NoRepositoryError {
	return &NoRepositoryError{Location: shown, Err: err, detail: detail}
}

// statError returns the file-system error behind a missing config file
// ("stat /path/config: no such file or directory"), as restic prints it.
func statError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe
	}
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
