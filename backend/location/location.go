// Package location parses repository locations ("-r" / RESTIC_REPOSITORY)
// the way restic 0.19 does.
//
// A location starts with a backend name and a colon ("sftp:", "s3:",
// "rest:", ...); anything else that looks like a path is a local directory.
// Parse returns the scheme and a per-scheme config struct holding what the
// string says plus restic's defaults (connection limits). String and
// StripPassword give the form that is safe to print.
package location

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
)

// Location is a parsed repository location.
type Location struct {
	// Scheme is the backend name: local, sftp, s3, rest, rclone, azure, gs, b2 or swift.
	Scheme string
	// Config is a pointer to the scheme's config struct (*LocalConfig, *SFTPConfig, ...).
	Config any

	raw string // the string given to Parse, for display
}

// String returns the location as given, with any password hidden.
func (l Location) String() string {
	if l.raw != "" {
		return StripPassword(l.raw)
	}
	if s, ok := l.Config.(fmt.Stringer); ok {
		return s.String()
	}
	return l.Scheme + ":"
}

// LocalConfig is a repository in a local directory.
type LocalConfig struct {
	Path        string
	Connections uint
}

// SFTPConfig is a repository on an SFTP server. Path is cleaned; it is
// absolute when it starts with "/", otherwise relative to the login directory.
type SFTPConfig struct {
	User, Host, Port, Path string
	// Command and Args are set by options (-o sftp.command / sftp.args).
	Command, Args string
	Connections   uint
}

// S3Config is a repository in an S3 bucket. Endpoint is a host[:port] or an
// AWS region name.
type S3Config struct {
	Endpoint    string
	UseHTTP     bool
	Bucket      string
	Prefix      string
	Connections uint
}

// RESTConfig is a repository on a REST server. URL always ends in "/" and may
// hold credentials; print it with StripPassword.
type RESTConfig struct {
	URL         *url.URL
	Connections uint
}

// RcloneConfig is a repository reached through "rclone serve restic".
type RcloneConfig struct {
	Remote      string
	Program     string
	Args        string
	Connections uint
	Timeout     time.Duration
}

// AzureConfig is a repository in an Azure blob container.
type AzureConfig struct {
	Container   string
	Prefix      string
	Connections uint
}

// GSConfig is a repository in a Google Cloud Storage bucket.
type GSConfig struct {
	Bucket      string
	Prefix      string
	Region      string
	Connections uint
}

// B2Config is a repository in a Backblaze B2 bucket.
type B2Config struct {
	Bucket      string
	Prefix      string
	Connections uint
}

// SwiftConfig is a repository in an OpenStack Swift container.
type SwiftConfig struct {
	Container   string
	Prefix      string
	Connections uint
}

func (c *LocalConfig) String() string { return "local:" + c.Path }
func (c *SFTPConfig) String() string {
	host := c.Host
	if c.User != "" {
		host = c.User + "@" + host
	}
	if c.Port != "" {
		if strings.Contains(c.Host, ":") {
			host = strings.Replace(host, c.Host, "["+c.Host+"]", 1)
		}
		return "sftp://" + host + ":" + c.Port + "/" + c.Path
	}
	return "sftp:" + host + ":" + c.Path
}
func (c *S3Config) String() string {
	scheme := "https"
	if c.UseHTTP {
		scheme = "http"
	}
	s := "s3:" + scheme + "://" + c.Endpoint + "/" + c.Bucket
	if c.Prefix != "" {
		s += "/" + c.Prefix
	}
	return s
}
func (c *RESTConfig) String() string {
	if c.URL == nil {
		return "rest:"
	}
	return StripPassword("rest:" + c.URL.String())
}
func (c *RcloneConfig) String() string { return "rclone:" + c.Remote }
func (c *AzureConfig) String() string  { return "azure:" + c.Container + ":/" + c.Prefix }
func (c *GSConfig) String() string     { return "gs:" + c.Bucket + ":/" + c.Prefix }
func (c *B2Config) String() string     { return "b2:" + c.Bucket + ":" + c.Prefix }
func (c *SwiftConfig) String() string  { return "swift:" + c.Container + ":/" + c.Prefix }

// Schemes lists the backend names restic knows, in the order restic's help
// text mentions them.
func Schemes() []string {
	return []string{"azure", "b2", "gs", "local", "rclone", "rest", "s3", "sftp", "swift"}
}

func parser(scheme string) func(string) (any, error) {
	switch scheme {
	case "local":
		return wrap(parseLocal)
	case "sftp":
		return wrap(parseSFTP)
	case "s3":
		return wrap(parseS3)
	case "rest":
		return wrap(parseREST)
	case "rclone":
		return wrap(parseRclone)
	case "azure":
		return wrap(parseAzure)
	case "gs":
		return wrap(parseGS)
	case "b2":
		return wrap(parseB2)
	case "swift":
		return wrap(parseSwift)
	}
	return nil
}

func wrap[C any](f func(string) (*C, error)) func(string) (any, error) {
	return func(s string) (any, error) {
		c, err := f(s)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// ErrAmbiguous is returned by Parse for a string with a colon that names no
// backend and is not clearly a path.
var ErrAmbiguous = errors.New("invalid backend\nIf the repository is in a local directory, you need to add a `local:` prefix")

// Parse parses a repository location. A string starting with a known backend
// name and a colon goes to that backend's parser; anything else is a local
// path, unless it contains a colon without being an obvious path (absolute,
// "../", or a Windows drive path), which is rejected as ambiguous.
func Parse(s string) (Location, error) {
	scheme, _, _ := strings.Cut(s, ":")
	if p := parser(scheme); p != nil {
		cfg, err := p(s)
		if err != nil {
			return Location{}, err
		}
		return Location{Scheme: scheme, Config: cfg, raw: s}, nil
	}
	if !isPath(s) && strings.ContainsRune(s, ':') {
		return Location{}, ErrAmbiguous
	}
	cfg, err := parseLocal("local:" + s)
	if err != nil {
		return Location{}, err
	}
	return Location{Scheme: "local", Config: cfg, raw: s}, nil
}

// isPath reports whether s is unmistakably a file system path.
func isPath(s string) bool {
	if strings.HasPrefix(s, "../") || strings.HasPrefix(s, `..\`) ||
		strings.HasPrefix(s, "/") || strings.HasPrefix(s, `\`) {
		return true
	}
	if len(s) < 3 {
		return false
	}
	drive := s[0] | 0x20 // lower case for letters
	return drive >= 'a' && drive <= 'z' && s[1] == ':' && (s[2] == '\\' || s[2] == '/')
}

// StripPassword returns s with the password of a rest: URL replaced by
// "***"; other locations are returned unchanged (restic's behaviour).
func StripPassword(s string) string {
	if !strings.HasPrefix(s, "rest:") {
		return s
	}
	u := prepareRESTURL(s)
	parsed, err := url.Parse(u)
	if err != nil {
		// restic shows an unparsable URL as is; hide a password anyway.
		return "rest:" + redactUserinfo(u)
	}
	if _, set := parsed.User.Password(); !set {
		return "rest:" + u
	}
	return "rest:" + strings.Replace(parsed.String(), parsed.User.String()+"@", parsed.User.Username()+":***@", 1)
}

// redactUserinfo replaces the password in "scheme://user:pass@host/..." with
// "***" without parsing the URL.
func redactUserinfo(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	start := i + 3
	end := len(u)
	if j := strings.IndexByte(u[start:], '/'); j >= 0 {
		end = start + j
	}
	at := strings.LastIndexByte(u[start:end], '@')
	if at < 0 {
		return u
	}
	colon := strings.IndexByte(u[start:start+at], ':')
	if colon < 0 {
		return u
	}
	return u[:start+colon+1] + "***" + u[start+at:]
}

// ErrNotImplemented is wrapped by CheckImplemented for schemes arca has no
// backend for yet.
var ErrNotImplemented = errors.New("not supported yet")

// Implemented reports whether arca has a backend for scheme.
func Implemented(scheme string) bool {
	switch scheme {
	case "local", "rest", "s3", "sftp":
		return true
	}
	return false
}

// CheckImplemented returns an error such as `backend "azure" is not
// supported yet` when arca cannot open the location's scheme.
func (l Location) CheckImplemented() error {
	if Implemented(l.Scheme) {
		return nil
	}
	return fmt.Errorf("backend %q is %w", l.Scheme, ErrNotImplemented)
}

func parseLocal(s string) (*LocalConfig, error) {
	p, ok := strings.CutPrefix(s, "local:")
	if !ok {
		return nil, errors.New(`invalid format, prefix "local" not found`)
	}
	return &LocalConfig{Path: p, Connections: 2}, nil
}

func parseSFTP(s string) (*SFTPConfig, error) {
	var user, host, port, dir string
	switch {
	case strings.HasPrefix(s, "sftp://"):
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("sftp: %w", err)
		}
		if u.User != nil {
			user = u.User.Username()
		}
		host, port, dir = u.Hostname(), u.Port(), u.Path
		if dir == "" {
			return nil, fmt.Errorf("invalid backend %q, no directory specified", s)
		}
		// "sftp://host/dir" is relative, "sftp://host//dir" absolute.
		dir = dir[1:]
	case strings.HasPrefix(s, "sftp:"):
		var found bool
		host, dir, found = strings.Cut(s[len("sftp:"):], ":")
		if !found {
			return nil, errors.New("sftp: invalid format, hostname or path not found")
		}
		parts := strings.SplitN(host, "@", 3)
		switch len(parts) {
		case 3:
			user, host = parts[0]+"@"+parts[1], parts[2]
		case 2:
			user, host = parts[0], parts[1]
		}
	default:
		return nil, errors.New(`invalid format, does not start with "sftp:"`)
	}
	p := path.Clean(dir)
	if strings.HasPrefix(p, "~") {
		return nil, errors.New("sftp path starts with the tilde (~) character, that fails for most sftp servers.\nUse a relative directory, most servers interpret this as relative to the user's home directory")
	}
	return &SFTPConfig{User: user, Host: host, Port: port, Path: p, Connections: 5}, nil
}

func parseS3(s string) (*S3Config, error) {
	switch {
	case strings.HasPrefix(s, "s3:http"):
		// A URL: the host is the endpoint, the path holds bucket and prefix.
		u, err := url.Parse(s[len("s3:"):])
		if err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
		if u.Path == "" {
			return nil, errors.New("s3: bucket name not found")
		}
		bucket, prefix, _ := strings.Cut(u.Path[1:], "/")
		return s3Config(u.Host, bucket, prefix, u.Scheme == "http")
	case strings.HasPrefix(s, "s3://"):
		s = s[len("s3://"):]
	case strings.HasPrefix(s, "s3:"):
		s = s[len("s3:"):]
	default:
		return nil, errors.New("s3: invalid format")
	}
	endpoint, rest, _ := strings.Cut(s, "/")
	bucket, prefix, _ := strings.Cut(rest, "/")
	return s3Config(endpoint, bucket, prefix, false)
}

func s3Config(endpoint, bucket, prefix string, useHTTP bool) (*S3Config, error) {
	if endpoint == "" {
		return nil, errors.New("s3: invalid format, host/region or bucket name not found")
	}
	if prefix != "" {
		prefix = path.Clean(prefix)
	}
	return &S3Config{Endpoint: endpoint, UseHTTP: useHTTP, Bucket: bucket, Prefix: prefix, Connections: 5}, nil
}

func prepareRESTURL(s string) string {
	s = s[len("rest:"):]
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s
}

func parseREST(s string) (*RESTConfig, error) {
	if !strings.HasPrefix(s, "rest:") {
		return nil, errors.New("invalid REST backend specification")
	}
	u, err := url.Parse(prepareRESTURL(s))
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("rest: invalid URL %s: %w", StripPassword(s), err)
	}
	return &RESTConfig{URL: u, Connections: 5}, nil
}

func parseRclone(s string) (*RcloneConfig, error) {
	remote, ok := strings.CutPrefix(s, "rclone:")
	if !ok {
		return nil, errors.New("invalid rclone backend specification")
	}
	return &RcloneConfig{
		Remote:      remote,
		Program:     "rclone",
		Args:        "serve restic --stdio --b2-hard-delete",
		Connections: 5,
		Timeout:     time.Minute,
	}, nil
}

func parseAzure(s string) (*AzureConfig, error) {
	rest, ok := strings.CutPrefix(s, "azure:")
	if !ok {
		return nil, errors.New("azure: invalid format")
	}
	container, prefix, found := strings.Cut(rest, ":")
	if !found {
		return nil, errors.New("azure: invalid format: bucket name or path not found")
	}
	return &AzureConfig{Container: container, Prefix: strings.TrimPrefix(path.Clean(prefix), "/"), Connections: 5}, nil
}

func parseGS(s string) (*GSConfig, error) {
	rest, ok := strings.CutPrefix(s, "gs:")
	if !ok {
		return nil, errors.New("gs: invalid format")
	}
	bucket, prefix, found := strings.Cut(rest, ":")
	if !found {
		return nil, errors.New("gs: invalid format: bucket name or path not found")
	}
	return &GSConfig{Bucket: bucket, Prefix: strings.TrimPrefix(path.Clean(prefix), "/"), Region: "us", Connections: 5}, nil
}

var b2BucketName = regexp.MustCompile("^[a-zA-Z0-9-]+$")

func checkB2Bucket(name string) error {
	switch {
	case name == "":
		return errors.New("bucket name not found")
	case len(name) < 6:
		return errors.New("bucket name is too short")
	case len(name) > 50:
		return errors.New("bucket name is too long")
	case !b2BucketName.MatchString(name):
		return errors.New("bucket name contains invalid characters, allowed are: a-z, 0-9, dash (-)")
	}
	return nil
}

func parseB2(s string) (*B2Config, error) {
	rest, ok := strings.CutPrefix(s, "b2:")
	if !ok {
		return nil, errors.New("invalid format, want: b2:bucket-name[:path]")
	}
	bucket, prefix, _ := strings.Cut(rest, ":")
	if err := checkB2Bucket(bucket); err != nil {
		return nil, err
	}
	if prefix != "" {
		prefix = strings.TrimPrefix(path.Clean(prefix), "/")
	}
	return &B2Config{Bucket: bucket, Prefix: prefix, Connections: 5}, nil
}

func parseSwift(s string) (*SwiftConfig, error) {
	rest, ok := strings.CutPrefix(s, "swift:")
	if !ok {
		return nil, errors.New("invalid URL, expected: swift:container-name:/[prefix]")
	}
	container, prefix, _ := strings.Cut(rest, ":")
	if prefix == "" {
		return nil, errors.New("prefix is empty")
	}
	if prefix[0] != '/' {
		return nil, errors.New("prefix does not start with slash (/)")
	}
	return &SwiftConfig{Container: container, Prefix: prefix[1:], Connections: 5}, nil
}
