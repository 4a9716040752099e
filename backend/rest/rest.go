// Package rest is a Backend that speaks restic's REST protocol (version 2),
// as restic's rest-server and `rclone serve restic` serve it.
//
// The repository is a URL; every file is one resource below it: `config`,
// and `<type>/<name>` for the others (data files too: the server, not the
// URL, spreads them over subdirectories). GET reads a file (with a Range
// header for parts), HEAD stats it, POST stores it, DELETE removes it, and
// a GET of `<type>/` with the v2 Accept header lists names and sizes. A POST
// to the repository URL with `?create=true` creates a repository.
//
// Errors follow restic's wording ("<data/4a2c5e8d01> does not exist",
// "unexpected HTTP response (401): 401 Unauthorized"); a missing file wraps
// backend.ErrNotExist, answers retrying cannot fix (401, 403, most other
// 4xx, 507) are backend.PermanentErrors. Credentials come from the URL or
// SetCredentials and are never part of an error or the Location.
package rest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/location"
)

// The REST protocol's media types: v2 listings carry names and sizes, v1
// listings only names.
const (
	ContentTypeV1 = "application/vnd.x.restic.rest.v1"
	ContentTypeV2 = "application/vnd.x.restic.rest.v2"
)

// DefaultConnections is restic's default for -o rest.connections.
const DefaultConnections = 5

// Config says where the repository is and how to reach it.
type Config struct {
	// URL is the repository's URL, possibly with user:password@.
	URL *url.URL
	// Connections bounds the number of concurrent requests (default 5).
	Connections uint
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
}

// FromLocation returns the config for a parsed "rest:" location.
func FromLocation(l *location.RESTConfig) Config {
	u := *l.URL
	return Config{URL: &u, Connections: l.Connections}
}

// SetCredentials sets user name and password when the URL has neither, as
// restic does with RESTIC_REST_USERNAME and RESTIC_REST_PASSWORD.
func (c *Config) SetCredentials(user, password string) {
	if c.URL == nil || (user == "" && password == "") {
		return
	}
	if _, hasPassword := c.URL.User.Password(); c.URL.User.Username() != "" || hasPassword {
		return
	}
	u := *c.URL
	u.User = url.UserPassword(user, password)
	c.URL = &u
}

// Backend is a repository on a REST server.
type Backend struct {
	base     string // repository URL without credentials, ending in "/"
	location string // "rest:" URL with the password hidden
	user     *url.Userinfo
	client   *http.Client
	conns    uint
	sem      backend.Semaphore
}

var _ backend.Backend = (*Backend)(nil)

// New returns a backend for the repository at cfg.URL. It sends no request;
// Create makes a new repository, and Stat of the config file tells whether
// one exists.
func New(cfg Config) (*Backend, error) {
	if cfg.URL == nil || (cfg.URL.Scheme != "http" && cfg.URL.Scheme != "https") || cfg.URL.Host == "" {
		return nil, errors.New("rest: the repository URL must be http(s)://host[:port]/[path]")
	}
	u := *cfg.URL
	user := u.User
	u.User = nil
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	u.RawQuery, u.Fragment = "", ""
	conns := cfg.Connections
	if conns == 0 {
		conns = DefaultConnections
	}
	rt := cfg.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	withUser := u
	withUser.User = user
	return &Backend{
		base:     u.String(),
		location: location.StripPassword("rest:" + withUser.String()),
		user:     user,
		client:   &http.Client{Transport: rt},
		conns:    conns,
		sem:      backend.NewSemaphore(uint(conns)),
	}, nil
}

// StatusError is an HTTP answer that is not a success.
type StatusError struct {
	Handle     backend.Handle
	StatusCode int
	Status     string
}

func (e *StatusError) Error() string {
	if e.StatusCode == http.StatusNotFound && e.Handle.Type != 0 {
		return fmt.Sprintf("%v does not exist", e.Handle)
	}
	return fmt.Sprintf("unexpected HTTP response (%d): %s", e.StatusCode, e.Status)
}

// statusError classifies a failed answer: missing files wrap
// backend.ErrNotExist, answers retrying cannot fix are permanent.
func statusError(h backend.Handle, resp *http.Response) error {
	err := &StatusError{Handle: h, StatusCode: resp.StatusCode, Status: resp.Status}
	code := resp.StatusCode
	switch {
	case code == http.StatusNotFound:
		return backend.NotExist(err)
	case code == http.StatusRequestedRangeNotSatisfiable:
		return &backend.PermanentError{Err: fmt.Errorf("%w: %w", err, backend.ErrTooShort)}
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		return err
	case code >= 400 && code < 500, code == http.StatusInsufficientStorage:
		return &backend.PermanentError{Err: err}
	}
	return err
}

// Location returns the repository URL with the password replaced by "***".
func (b *Backend) Location() string { return b.location }

// Properties reports the connection limit; REST servers refuse (rest-server)
// or do not promise to replace existing files atomically.
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.conns, HasAtomicReplace: false, Remote: true}
}

// acquire takes one of the connection slots.
func (b *Backend) acquire(ctx context.Context) (release func(), err error) {
	if err := b.sem.Acquire(ctx); err != nil {
		return nil, err
	}
	return b.sem.Release, nil
}

func (b *Backend) url(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return b.base + "config"
	}
	return b.base + h.Type.Dir() + "/" + url.PathEscape(h.Name)
}

// begin checks h and takes a connection slot for a request about it.
func (b *Backend) begin(ctx context.Context, h backend.Handle) (release func(), err error) {
	if err := checkHandle(h); err != nil {
		return nil, err
	}
	return b.acquire(ctx)
}

func checkHandle(h backend.Handle) error {
	switch {
	case h.Type < backend.PackFile || h.Type > backend.ConfigFile:
		return &backend.PermanentError{Err: fmt.Errorf("rest: invalid file type %v", h.Type)}
	case h.Type != backend.ConfigFile && h.Name == "":
		return &backend.PermanentError{Err: fmt.Errorf("rest: empty file name for %v", h.Type)}
	}
	return nil
}

// request builds a request with the protocol's Accept header and the
// credentials.
func (b *Backend) request(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, &backend.PermanentError{Err: fmt.Errorf("rest: %s %s: %w", method, url, err)}
	}
	req.Header.Set("Accept", ContentTypeV2)
	if b.user != nil {
		pw, _ := b.user.Password()
		req.SetBasicAuth(b.user.Username(), pw)
	}
	return req, nil
}

// drainAndClose reads what is left of a small body so the connection can
// be reused, and closes it.
func drainAndClose(resp *http.Response) error {
	_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return err
}

// Create makes a new repository at the URL. It fails when a config file
// exists there.
func (b *Backend) Create(ctx context.Context) error {
	if _, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err == nil {
		return backend.ErrConfigExists
	}
	release, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	req, err := b.request(ctx, http.MethodPost, b.base+"?create=true", strings.NewReader(""))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "binary/octet-stream")
	_, err = b.roundTrip(req, "create repository", backend.Handle{})
	return err
}

// do sends req. A server certificate that fails verification is a
// permanent error: retrying cannot make it trusted.
func (b *Backend) do(req *http.Request) (*http.Response, error) {
	resp, err := b.client.Do(req)
	if err != nil && isCertificateError(err) {
		return nil, &backend.PermanentError{Err: err}
	}
	return resp, err
}

// isCertificateError reports whether err says that the server's
// certificate was not accepted.
func isCertificateError(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

// roundTrip sends a request whose answer has no body of interest, drops
// the body and turns a status other than 200 into an error.
func (b *Backend) roundTrip(req *http.Request, op string, h backend.Handle) (*http.Response, error) {
	resp, err := b.do(req)
	if err != nil {
		return nil, err
	}
	if err := drainAndClose(resp); err != nil {
		return nil, fmt.Errorf("rest: %s %v: %w", op, h, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(h, resp)
	}
	return resp, nil
}

// Save stores a file with one POST of exactly rd.Length() bytes.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	release, err := b.begin(ctx, h)
	if err != nil {
		return err
	}
	defer release()
	// The client gets rd wrapped: it must not close the caller's reader,
	// the wrapper hides WriteTo, so a reader that breaks its Length
	// promise is noticed, and Save returns only once the client is done
	// reading (see bodyTracker).
	var bodies bodyTracker
	body := io.ReadCloser(http.NoBody)
	if rd.Length() > 0 {
		body = bodies.track(rd)
	}
	req, err := b.request(ctx, http.MethodPost, b.url(h), body)
	if err != nil {
		return err
	}
	req.GetBody = func() (io.ReadCloser, error) {
		if err := rd.Rewind(); err != nil {
			return nil, err
		}
		if rd.Length() == 0 {
			return http.NoBody, nil
		}
		return bodies.track(rd), nil
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	// A known length: no chunked encoding, and the server knows what comes.
	req.ContentLength = rd.Length()
	_, err = b.roundTrip(req, "save", h)
	bodies.wait()
	return err
}

// bodyTracker waits until the HTTP client is done with the request bodies
// it was given. The client may still be sending a body after the answer
// arrived (a server that fails an upload answers before reading all of
// it), and reads it in a goroutine of its own until it closes it; the
// caller, though, rewinds and reads the same reader again for a retry.
type bodyTracker struct {
	mu   sync.Mutex
	open []chan struct{}
}

// track returns rd as a request body whose Close the tracker waits for.
func (t *bodyTracker) track(rd io.Reader) io.ReadCloser {
	done := make(chan struct{})
	t.mu.Lock()
	t.open = append(t.open, done)
	t.mu.Unlock()
	return &trackedBody{rd: rd, done: done}
}

// wait returns when every tracked body is closed. net/http closes every
// request body, also after errors, and stops sending one soon after the
// answer came (at once when the request was cancelled).
func (t *bodyTracker) wait() {
	t.mu.Lock()
	open := t.open
	t.open = nil
	t.mu.Unlock()
	for _, done := range open {
		<-done
	}
}

type trackedBody struct {
	rd   io.Reader
	once sync.Once
	done chan struct{}
}

func (b *trackedBody) Read(p []byte) (int, error) { return b.rd.Read(p) }

func (b *trackedBody) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}

// Load reads length bytes at offset (length 0: to the end) with a Range
// request. A file shorter than that is a permanent error wrapping
// backend.ErrTooShort. fn's error is returned unchanged.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if length < 0 || offset < 0 {
		return &backend.PermanentError{Err: fmt.Errorf("rest: load %v: invalid range (length %d, offset %d)", h, length, offset)}
	}
	release, err := b.begin(ctx, h)
	if err != nil {
		return err
	}
	defer release()

	body, err := b.open(ctx, h, length, offset)
	if err != nil {
		return err
	}
	err = fn(body)
	if err == nil {
		// Wait for the end of the body before closing it: closing an HTTP/2
		// stream early may make the server log a reset stream.
		var one [1]byte
		if _, rerr := body.Read(one[:]); rerr != nil && rerr != io.EOF {
			err = rerr
		}
	}
	if cerr := body.Close(); err == nil {
		err = cerr
	}
	return err
}

// open sends the GET and returns a body that yields exactly the requested
// range, or fails with ErrTooShort.
func (b *Backend) open(ctx context.Context, h backend.Handle, length int, offset int64) (io.ReadCloser, error) {
	req, err := b.request(ctx, http.MethodGet, b.url(h), nil)
	if err != nil {
		return nil, err
	}
	rng := fmt.Sprintf("bytes=%d-", offset)
	if length > 0 {
		rng = fmt.Sprintf("bytes=%d-%d", offset, offset+int64(length)-1)
	}
	req.Header.Set("Range", rng)
	resp, err := b.do(req)
	if err != nil {
		return nil, err
	}
	tooShort := func(what string) error {
		return &backend.PermanentError{Err: fmt.Errorf("%w: %w", &StatusError{Handle: h,
			StatusCode: http.StatusRequestedRangeNotSatisfiable, Status: what}, backend.ErrTooShort)}
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if length > 0 && resp.ContentLength >= 0 && resp.ContentLength != int64(length) {
			_ = drainAndClose(resp)
			return nil, tooShort("partial out of bounds read")
		}
	case http.StatusOK:
		// The server ignored the Range header: skip to the offset.
		if offset > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
				_ = resp.Body.Close()
				if err == io.EOF {
					return nil, tooShort("offset beyond the end of the file")
				}
				return nil, fmt.Errorf("rest: load %v: %w", h, err)
			}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		_ = drainAndClose(resp)
		if length == 0 {
			// "bytes=<size>-" asks for nothing at the end of the file.
			if fi, err := b.stat(ctx, h); err == nil && fi.Size == offset {
				return io.NopCloser(strings.NewReader("")), nil
			}
		}
		return nil, tooShort("partial out of bounds read")
	default:
		_ = drainAndClose(resp)
		return nil, statusError(h, resp)
	}
	if length == 0 {
		return resp.Body, nil
	}
	return &exactReader{rc: resp.Body, left: int64(length), tooShort: tooShort}, nil
}

// exactReader yields exactly left bytes and reports a body that ends early
// as ErrTooShort.
type exactReader struct {
	rc       io.ReadCloser
	left     int64
	tooShort func(string) error
}

func (r *exactReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		err = r.tooShort("body ended early")
	}
	if err == io.EOF || (err == nil && r.left == 0) {
		return n, nil
	}
	return n, err
}

func (r *exactReader) Close() error { return r.rc.Close() }

// Stat returns a file's size with a HEAD request. The protocol has no
// modification times.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	release, err := b.begin(ctx, h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	defer release()
	return b.stat(ctx, h)
}

func (b *Backend) stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	req, err := b.request(ctx, http.MethodHead, b.url(h), nil)
	if err != nil {
		return backend.FileInfo{}, err
	}
	resp, err := b.roundTrip(req, "stat", h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	if resp.ContentLength < 0 {
		return backend.FileInfo{}, fmt.Errorf("rest: stat %v: the server sent no length", h)
	}
	return backend.FileInfo{Name: h.Name, Size: resp.ContentLength}, nil
}

// Remove deletes a file.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	release, err := b.begin(ctx, h)
	if err != nil {
		return err
	}
	defer release()
	req, err := b.request(ctx, http.MethodDelete, b.url(h), nil)
	if err != nil {
		return err
	}
	_, err = b.roundTrip(req, "remove", h)
	return err
}

// List calls fn for every file of type t (for the config file: the config
// file, when there is one). The listing is read completely
// before fn runs, so fn may use the backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	var files []backend.FileInfo
	switch {
	case t == backend.ConfigFile:
		// The config file, when there is one.
		fi, err := b.Stat(ctx, backend.Handle{Type: t})
		if err != nil && !backend.IsNotExist(err) {
			return err
		}
		if err == nil {
			files = append(files, fi)
		}
	case t >= backend.PackFile && t < backend.ConfigFile:
		var err error
		if files, err = b.list(ctx, t); err != nil {
			return err
		}
	default:
		return &backend.PermanentError{Err: fmt.Errorf("rest: cannot list file type %v", t)}
	}
	for _, fi := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (b *Backend) list(ctx context.Context, t backend.FileType) ([]backend.FileInfo, error) {
	release, err := b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	req, err := b.request(ctx, http.MethodGet, b.base+t.Dir()+"/", nil)
	if err != nil {
		release()
		return nil, err
	}
	resp, err := b.do(req)
	if err != nil {
		release()
		return nil, err
	}
	h := backend.Handle{Type: t}
	if resp.StatusCode == http.StatusNotFound && !strings.HasPrefix(resp.Header.Get("Server"), "rclone/") {
		// rest-server answers 404 for a missing directory: nothing in it.
		// rclone creates no such answer for directories; its 404 means the
		// repository is missing.
		release()
		return nil, drainAndClose(resp)
	}
	if resp.StatusCode != http.StatusOK {
		_ = drainAndClose(resp)
		release()
		return nil, statusError(h, resp)
	}
	var files []backend.FileInfo
	if resp.Header.Get("Content-Type") == ContentTypeV2 {
		var entries []struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		}
		err = json.NewDecoder(resp.Body).Decode(&entries)
		for _, e := range entries {
			files = append(files, backend.FileInfo{Name: e.Name, Size: e.Size})
		}
	} else {
		var names []string
		err = json.NewDecoder(resp.Body).Decode(&names)
		for _, n := range names {
			files = append(files, backend.FileInfo{Name: n})
		}
	}
	cerr := drainAndClose(resp)
	release()
	if err != nil {
		return nil, fmt.Errorf("rest: list %s: decode the listing: %w", t.Dir(), err)
	}
	if cerr != nil {
		return nil, fmt.Errorf("rest: list %s: %w", t.Dir(), cerr)
	}
	if resp.Header.Get("Content-Type") != ContentTypeV2 {
		// A v1 listing has only names: ask for each size.
		for i := range files {
			fi, err := b.Stat(ctx, backend.Handle{Type: t, Name: files[i].Name})
			if err != nil {
				return nil, err
			}
			files[i].Size = fi.Size
		}
	}
	return files, nil
}

// Close closes idle connections.
func (b *Backend) Close() error {
	b.client.CloseIdleConnections()
	return nil
}
