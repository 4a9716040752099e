package location

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func rcloneCfg(remote string) *RcloneConfig {
	return &RcloneConfig{Remote: remote, Program: "rclone", Args: "serve restic --stdio --b2-hard-delete", Connections: 5, Timeout: time.Minute}
}

var parseTests = []struct {
	s      string
	scheme string
	cfg    any
}{
	// local, explicit and by fallback
	{"local:/some/path", "local", &LocalConfig{Path: "/some/path", Connections: 2}},
	{"local:dir1/dir2", "local", &LocalConfig{Path: "dir1/dir2", Connections: 2}},
	{"local:../dir1/dir2", "local", &LocalConfig{Path: "../dir1/dir2", Connections: 2}},
	{"local:/dir1:foobar/dir2", "local", &LocalConfig{Path: "/dir1:foobar/dir2", Connections: 2}},
	{`local:\dir1\foobar\dir2`, "local", &LocalConfig{Path: `\dir1\foobar\dir2`, Connections: 2}},
	{`local:c:\dir1\foobar\dir2`, "local", &LocalConfig{Path: `c:\dir1\foobar\dir2`, Connections: 2}},
	{`local:c:/dir1/foobar/dir2`, "local", &LocalConfig{Path: `c:/dir1/foobar/dir2`, Connections: 2}},
	{"dir1/dir2", "local", &LocalConfig{Path: "dir1/dir2", Connections: 2}},
	{"/dir1/dir2", "local", &LocalConfig{Path: "/dir1/dir2", Connections: 2}},
	{"/dir1:foobar/dir2", "local", &LocalConfig{Path: "/dir1:foobar/dir2", Connections: 2}},
	{"../dir:x", "local", &LocalConfig{Path: "../dir:x", Connections: 2}},
	{`\dir1\foobar\dir2`, "local", &LocalConfig{Path: `\dir1\foobar\dir2`, Connections: 2}},
	{`c:\dir1\foobar\dir2`, "local", &LocalConfig{Path: `c:\dir1\foobar\dir2`, Connections: 2}},
	{`C:\Users\appveyor\AppData\Local\Temp\1\restic-test-879453535\repo`, "local",
		&LocalConfig{Path: `C:\Users\appveyor\AppData\Local\Temp\1\restic-test-879453535\repo`, Connections: 2}},
	{`c:/dir1/foobar/dir2`, "local", &LocalConfig{Path: `c:/dir1/foobar/dir2`, Connections: 2}},
	{"repo", "local", &LocalConfig{Path: "repo", Connections: 2}},
	{"local:", "local", &LocalConfig{Path: "", Connections: 2}},

	// sftp URL form
	{"sftp://user@host/dir/subdir", "sftp", &SFTPConfig{User: "user", Host: "host", Path: "dir/subdir", Connections: 5}},
	{"sftp://host/dir/subdir", "sftp", &SFTPConfig{Host: "host", Path: "dir/subdir", Connections: 5}},
	{"sftp://host//dir/subdir", "sftp", &SFTPConfig{Host: "host", Path: "/dir/subdir", Connections: 5}},
	{"sftp://host:10022//dir/subdir", "sftp", &SFTPConfig{Host: "host", Port: "10022", Path: "/dir/subdir", Connections: 5}},
	{"sftp://user@host:10022//dir/subdir", "sftp", &SFTPConfig{User: "user", Host: "host", Port: "10022", Path: "/dir/subdir", Connections: 5}},
	{"sftp://user@host/dir/subdir/../other", "sftp", &SFTPConfig{User: "user", Host: "host", Path: "dir/other", Connections: 5}},
	{"sftp://user@host/dir///subdir", "sftp", &SFTPConfig{User: "user", Host: "host", Path: "dir/subdir", Connections: 5}},
	{"sftp://user@[::1]/dir", "sftp", &SFTPConfig{User: "user", Host: "::1", Path: "dir", Connections: 5}},
	{"sftp://user@[::1]:22/dir", "sftp", &SFTPConfig{User: "user", Host: "::1", Port: "22", Path: "dir", Connections: 5}},
	{"sftp://host/", "sftp", &SFTPConfig{Host: "host", Path: ".", Connections: 5}},
	// sftp scp-like form
	{"sftp:user@host:/dir/subdir", "sftp", &SFTPConfig{User: "user", Host: "host", Path: "/dir/subdir", Connections: 5}},
	{"sftp:user@domain@host:/dir/subdir", "sftp", &SFTPConfig{User: "user@domain", Host: "host", Path: "/dir/subdir", Connections: 5}},
	{"sftp:host:../dir/subdir", "sftp", &SFTPConfig{Host: "host", Path: "../dir/subdir", Connections: 5}},
	{"sftp:host:relative", "sftp", &SFTPConfig{Host: "host", Path: "relative", Connections: 5}},
	{"sftp:user@host:dir/subdir:suffix", "sftp", &SFTPConfig{User: "user", Host: "host", Path: "dir/subdir:suffix", Connections: 5}},
	{"sftp:user@host:dir/subdir/../other", "sftp", &SFTPConfig{User: "user", Host: "host", Path: "dir/other", Connections: 5}},
	{"sftp:user@host:dir///subdir", "sftp", &SFTPConfig{User: "user", Host: "host", Path: "dir/subdir", Connections: 5}},
	{"sftp:host:", "sftp", &SFTPConfig{Host: "host", Path: ".", Connections: 5}},

	// s3
	{"s3://eu-central-1/bucketname", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "bucketname", Connections: 5}},
	{"s3://eu-central-1/bucketname/", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "bucketname", Connections: 5}},
	{"s3://eu-central-1/bucketname/prefix/directory", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "bucketname", Prefix: "prefix/directory", Connections: 5}},
	{"s3://eu-central-1/bucketname/prefix/directory/", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "bucketname", Prefix: "prefix/directory", Connections: 5}},
	{"s3:eu-central-1/foobar", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "foobar", Connections: 5}},
	{"s3:eu-central-1/foobar/", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "foobar", Connections: 5}},
	{"s3:eu-central-1/foobar/prefix/directory", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "foobar", Prefix: "prefix/directory", Connections: 5}},
	{"s3:eu-central-1/foobar/prefix/directory/", "s3", &S3Config{Endpoint: "eu-central-1", Bucket: "foobar", Prefix: "prefix/directory", Connections: 5}},
	{"s3:hostname.foo/foobar", "s3", &S3Config{Endpoint: "hostname.foo", Bucket: "foobar", Connections: 5}},
	{"s3:hostname.foo/foobar/prefix/directory", "s3", &S3Config{Endpoint: "hostname.foo", Bucket: "foobar", Prefix: "prefix/directory", Connections: 5}},
	{"s3:hostname.foo/foobar/a/../b//c", "s3", &S3Config{Endpoint: "hostname.foo", Bucket: "foobar", Prefix: "b/c", Connections: 5}},
	{"s3:https://hostname/foobar", "s3", &S3Config{Endpoint: "hostname", Bucket: "foobar", Connections: 5}},
	{"s3:https://hostname:9999/foobar", "s3", &S3Config{Endpoint: "hostname:9999", Bucket: "foobar", Connections: 5}},
	{"s3:https://hostname:9999/foobar/", "s3", &S3Config{Endpoint: "hostname:9999", Bucket: "foobar", Connections: 5}},
	{"s3:http://hostname:9999/foobar", "s3", &S3Config{Endpoint: "hostname:9999", Bucket: "foobar", UseHTTP: true, Connections: 5}},
	{"s3:http://hostname:9999/foobar/", "s3", &S3Config{Endpoint: "hostname:9999", Bucket: "foobar", UseHTTP: true, Connections: 5}},
	{"s3:http://hostname:9999/bucket/prefix/directory", "s3", &S3Config{Endpoint: "hostname:9999", Bucket: "bucket", Prefix: "prefix/directory", UseHTTP: true, Connections: 5}},
	{"s3:http://hostname:9999/bucket/prefix/directory/", "s3", &S3Config{Endpoint: "hostname:9999", Bucket: "bucket", Prefix: "prefix/directory", UseHTTP: true, Connections: 5}},
	{"s3:http://127.0.0.1:9000/arca", "s3", &S3Config{Endpoint: "127.0.0.1:9000", Bucket: "arca", UseHTTP: true, Connections: 5}},
	{"s3:bucket-only", "s3", &S3Config{Endpoint: "bucket-only", Connections: 5}},

	// rest
	{"rest:http://localhost:1234", "rest", &RESTConfig{URL: mustURL("http://localhost:1234/"), Connections: 5}},
	{"rest:http://localhost:1234/", "rest", &RESTConfig{URL: mustURL("http://localhost:1234/"), Connections: 5}},
	{"rest:https://user:pass@host:8000/repo", "rest", &RESTConfig{URL: mustURL("https://user:pass@host:8000/repo/"), Connections: 5}},
	{"rest:http+unix:///tmp/rest.socket:/my_backup_repo/", "rest", &RESTConfig{URL: mustURL("http+unix:///tmp/rest.socket:/my_backup_repo/"), Connections: 5}},

	// rclone
	{"rclone:local:foo:/bar", "rclone", rcloneCfg("local:foo:/bar")},
	{"rclone:remote:path/to/repo", "rclone", rcloneCfg("remote:path/to/repo")},

	// azure
	{"azure:container-name:/", "azure", &AzureConfig{Container: "container-name", Connections: 5}},
	{"azure:container-name:/prefix/directory", "azure", &AzureConfig{Container: "container-name", Prefix: "prefix/directory", Connections: 5}},
	{"azure:container-name:/prefix/directory/", "azure", &AzureConfig{Container: "container-name", Prefix: "prefix/directory", Connections: 5}},
	{"azure:container-name:", "azure", &AzureConfig{Container: "container-name", Prefix: ".", Connections: 5}},

	// gs
	{"gs:bucketname:/", "gs", &GSConfig{Bucket: "bucketname", Region: "us", Connections: 5}},
	{"gs:bucketname:/prefix/directory", "gs", &GSConfig{Bucket: "bucketname", Prefix: "prefix/directory", Region: "us", Connections: 5}},
	{"gs:bucketname:/prefix/directory/", "gs", &GSConfig{Bucket: "bucketname", Prefix: "prefix/directory", Region: "us", Connections: 5}},

	// b2
	{"b2:bucketname", "b2", &B2Config{Bucket: "bucketname", Connections: 5}},
	{"b2:bucketname:", "b2", &B2Config{Bucket: "bucketname", Connections: 5}},
	{"b2:bucketname:/prefix/directory", "b2", &B2Config{Bucket: "bucketname", Prefix: "prefix/directory", Connections: 5}},
	{"b2:bucketname:prefix", "b2", &B2Config{Bucket: "bucketname", Prefix: "prefix", Connections: 5}},
	{"b2:foobar:/", "b2", &B2Config{Bucket: "foobar", Connections: 5}},

	// swift
	{"swift:cnt1:/", "swift", &SwiftConfig{Container: "cnt1", Connections: 5}},
	{"swift:cnt2:/prefix", "swift", &SwiftConfig{Container: "cnt2", Prefix: "prefix", Connections: 5}},
	{"swift:cnt3:/prefix/longer", "swift", &SwiftConfig{Container: "cnt3", Prefix: "prefix/longer", Connections: 5}},
}

func TestParse(t *testing.T) {
	for _, tc := range parseTests {
		t.Run(tc.s, func(t *testing.T) {
			loc, err := Parse(tc.s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.s, err)
			}
			if loc.Scheme != tc.scheme {
				t.Errorf("Scheme = %q, want %q", loc.Scheme, tc.scheme)
			}
			if !reflect.DeepEqual(loc.Config, tc.cfg) {
				t.Errorf("Config =\n  %#v\nwant\n  %#v", loc.Config, tc.cfg)
			}
		})
	}
}

var invalidTests = []struct {
	s   string
	err string // substring; "" for any error
}{
	{"foobar:xxx", "invalid backend"},
	{"foobar:/dir/dir2", "invalid backend"},
	{"dir:x", "you need to add a `local:` prefix"},
	{"sftp://host:dir", ""},
	{"sftp://host", "no directory specified"},
	{"sftp:hostonly", "hostname or path not found"},
	{"sftp:host:~/repo", "tilde"},
	{"sftp://host/~/repo", "tilde"},
	{"s3://", "s3: invalid format,"},
	{"s3:///", "s3: invalid format,"},
	{"s3:////", "s3: invalid format,"},
	{"s3:///bucket/prefix", "s3: invalid format,"},
	{"s3:https://host", "s3: bucket name not found"},
	{"rest:http://host:port/", ""},
	{"azure:container", "bucket name or path not found"},
	{"gs:bucket", "bucket name or path not found"},
	{"b2", "invalid format, want: b2:bucket-name[:path]"},
	{"b2:", "bucket name not found"},
	{"b2:short", "bucket name is too short"},
	{"b2:" + strings.Repeat("a", 51), "bucket name is too long"},
	{"b2:bucket_name", "bucket name contains invalid characters, allowed are: a-z, 0-9, dash (-)"},
	{"b2:bucketname/prefix/directory/", "bucket name contains invalid characters, allowed are: a-z, 0-9, dash (-)"},
	{"swift://hostname/container", "prefix is empty"},
	{"swift:container:prefix", "prefix does not start with slash (/)"},
	{"swift:////", ""},
	{"swift://", ""},
	{"swift:////prefix", ""},
	{"swift:container", "prefix is empty"},
	{"swift:container:", "prefix is empty"},
	{"swift:container/prefix", "prefix is empty"},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidTests {
		t.Run(tc.s, func(t *testing.T) {
			loc, err := Parse(tc.s)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tc.s, loc.Config)
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) error %q, want it to contain %q", tc.s, err, tc.err)
			}
		})
	}
}

func TestParseRESTErrorHidesPassword(t *testing.T) {
	_, err := Parse("rest:http://user:secret@host:port/")
	if err == nil {
		t.Fatal("no error for a bad port")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestStripPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rest:", "rest:/"},
		{"rest:localhost/", "rest:localhost/"},
		{"rest::123/", "rest::123/"},
		{"rest:http://", "rest:http://"},
		{"rest:http://hostname.foo:1234/", "rest:http://hostname.foo:1234/"},
		{"rest:http://user@hostname.foo:1234/", "rest:http://user@hostname.foo:1234/"},
		{"rest:http://user:@hostname.foo:1234/", "rest:http://user:***@hostname.foo:1234/"},
		{"rest:http://user:p@hostname.foo:1234/", "rest:http://user:***@hostname.foo:1234/"},
		{"rest:http://user:pppppaaafhhfuuwiiehhthhghhdkjaoowpprooghjjjdhhwuuhgjsjhhfdjhruuhsjsdhhfhshhsppwufhhsjjsjs@hostname.foo:1234/",
			"rest:http://user:***@hostname.foo:1234/"},
		{"rest:http://user:password@hostname", "rest:http://user:***@hostname/"},
		{"rest:http://user:password@:123", "rest:http://user:***@:123/"},
		{"rest:http://user:password@", "rest:http://user:***@/"},
		{"rest:http://user:pass@host:8000/repo", "rest:http://user:***@host:8000/repo/"},
		// Other schemes are shown unchanged.
		{"sftp://user@host//srv/repo", "sftp://user@host//srv/repo"},
		{"s3:http://host/bucket", "s3:http://host/bucket"},
		{"/srv/repo", "/srv/repo"},
		{"invalid:secret", "invalid:secret"},
		// Unparsable URLs: restic shows them as is, arca hides the password.
		{"rest:http://user:secret@host:port/", "rest:http://user:***@host:port/"},
		{"rest:http://user@host:port/", "rest:http://user@host:port/"},
	}
	for _, tc := range tests {
		if got := StripPassword(tc.in); got != tc.want {
			t.Errorf("StripPassword(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLocationString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rest:https://user:pass@host:8000/repo/", "rest:https://user:***@host:8000/repo/"},
		{"/srv/repo", "/srv/repo"},
		{"local:/srv/repo", "local:/srv/repo"},
		{"sftp:user@host:/srv/repo", "sftp:user@host:/srv/repo"},
	}
	for _, tc := range tests {
		loc, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := loc.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}

	// Built from a config alone.
	built := []struct {
		loc  Location
		want string
	}{
		{Location{Scheme: "rest", Config: &RESTConfig{URL: mustURL("http://u:p@h:1/x/")}}, "rest:http://u:***@h:1/x/"},
		{Location{Scheme: "local", Config: &LocalConfig{Path: "/r"}}, "local:/r"},
		{Location{Scheme: "sftp", Config: &SFTPConfig{User: "u", Host: "h", Path: "/r"}}, "sftp:u@h:/r"},
		{Location{Scheme: "sftp", Config: &SFTPConfig{Host: "::1", Port: "22", Path: "/r"}}, "sftp://[::1]:22//r"},
		{Location{Scheme: "s3", Config: &S3Config{Endpoint: "h:9000", UseHTTP: true, Bucket: "b", Prefix: "p"}}, "s3:http://h:9000/b/p"},
		{Location{Scheme: "b2", Config: &B2Config{Bucket: "bucket", Prefix: "p"}}, "b2:bucket:p"},
	}
	for _, tc := range built {
		if got := tc.loc.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		// The canonical form parses back to the same config (except defaults).
		back, err := Parse(tc.want)
		if err != nil || back.Scheme != tc.loc.Scheme {
			t.Errorf("Parse(%q) = %v, %v", tc.want, back, err)
		}
	}
}

func TestCheckImplemented(t *testing.T) {
	loc, err := Parse("/srv/repo")
	if err != nil {
		t.Fatal(err)
	}
	if err := loc.CheckImplemented(); err != nil {
		t.Errorf("local: %v", err)
	}
	loc, err = Parse("azure:container:/prefix")
	if err != nil {
		t.Fatal(err)
	}
	err = loc.CheckImplemented()
	if err == nil || err.Error() != `backend "azure" is not supported yet` || !errors.Is(err, ErrNotImplemented) {
		t.Errorf("azure: %v", err)
	}
	for _, s := range Schemes() {
		if parser(s) == nil {
			t.Errorf("scheme %q has no parser", s)
		}
	}
}
