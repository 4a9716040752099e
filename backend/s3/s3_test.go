package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/backend/s3"
)

// testServer describes the S3 server started by
// scripts/testservers/start-s3.sh (read from its exported variables).
type testServer struct {
	endpoint string // http://127.0.0.1:PORT
	bucket   string
	dataDir  string // versitygw: objects are plain files under dataDir/bucket
	caCert   string
}

// s3Server skips the test unless S3_ENDPOINT is set.
func s3Server(t *testing.T) testServer { return s3ServerB(t) }

func s3ServerB(t testing.TB) testServer {
	t.Helper()
	ts := testServer{
		endpoint: os.Getenv("S3_ENDPOINT"),
		bucket:   os.Getenv("S3_BUCKET"),
		dataDir:  os.Getenv("S3_DATA_DIR"),
		caCert:   os.Getenv("S3_CA_CERT"),
	}
	if ts.endpoint == "" || ts.bucket == "" {
		t.Skip("S3_ENDPOINT/S3_BUCKET not set; start a server with scripts/testservers/start-s3.sh")
	}
	if s := os.Getenv("S3_SERVER"); s != "" && s != "versitygw" {
		ts.dataDir = "" // MinIO keeps each object in a directory of its own format
	}
	return ts
}

// uniquePrefix returns a prefix no other test uses.
func uniquePrefix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "-", " ", "_").Replace(strings.ToLower(t.Name()))
	return "test/" + name + "-" + hex.EncodeToString(b[:])
}

// config returns the Config for prefix in the server's bucket, with the
// given -o options.
func (ts testServer) config(t testing.TB, bucket, prefix string, opts map[string]string) s3.Config {
	t.Helper()
	l, err := location.Parse("s3:" + ts.endpoint + "/" + bucket + "/" + prefix)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s3.NewConfig(l.Config.(*location.S3Config), opts)
	if err != nil {
		t.Fatal(err)
	}
	if ts.caCert != "" {
		cfg.Transport = caTransport(t, ts.caCert)
	}
	return cfg
}

// caTransport trusts only the test server's CA.
func caTransport(t testing.TB, file string) http.RoundTripper {
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificates in %s", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return tr
}

// newBackend creates a repository location under a fresh prefix and
// removes what the test left there when it ends.
func (ts testServer) newBackend(t *testing.T, opts map[string]string) *s3.Backend {
	return ts.newBackendOpts(t, opts)
}

func (ts testServer) newBackendB(b *testing.B) *s3.Backend { return ts.newBackendOpts(b, nil) }

func (ts testServer) newBackendOpts(t testing.TB, opts map[string]string) *s3.Backend {
	t.Helper()
	ctx := context.Background()
	be, err := s3.New(ctx, ts.config(t, ts.bucket, uniquePrefix(t), opts))
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Create(ctx); err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { backendtest.RemoveAll(t, be) })
	return be
}

func TestConformance(t *testing.T) {
	ts := s3Server(t)
	backendtest.Run(t, func(t *testing.T) backend.Backend { return ts.newBackend(t, nil) })
}

// TestOneConnection: with a single connection, a List callback that calls
// the backend must not deadlock on the semaphore (also with ListObjects v1).
func TestOneConnection(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	be := ts.newBackend(t, map[string]string{"s3.connections": "1", "s3.list-objects-v1": "true"})
	if got := be.Properties().Connections; got != 1 {
		t.Fatalf("Connections = %d, want 1", got)
	}
	for i := range 4 {
		h := backend.Handle{Type: backend.LockFile, Name: fmt.Sprintf("lock%d", i)}
		if err := be.Save(ctx, h, backend.NewByteReader([]byte(h.Name))); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := be.List(ctx, backend.LockFile, func(fi backend.FileInfo) error {
		n++
		h := backend.Handle{Type: backend.LockFile, Name: fi.Name}
		if _, err := be.Stat(ctx, h); err != nil {
			return err
		}
		return be.Remove(ctx, h)
	})
	if err != nil || n != 4 {
		t.Fatalf("List removing every lock: %d files, %v", n, err)
	}
}

func TestListPagination(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v1=%v", v1), func(t *testing.T) {
			be := ts.newBackend(t, map[string]string{"s3.list-objects-v1": fmt.Sprint(v1)})
			be.SetPageSize(3)
			want := map[string]int64{}
			for i := range 10 {
				data := bytes.Repeat([]byte{byte(i)}, 10+i)
				h := backend.Handle{Type: backend.PackFile, Name: fmt.Sprintf("%02x%062d", i*23, i)}
				if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
					t.Fatal(err)
				}
				want[h.Name] = int64(len(data))
			}
			// A snapshot must not show up among data files, nor the other way round.
			if err := be.Save(ctx, backend.Handle{Type: backend.SnapshotFile, Name: "abcd"}, backend.NewByteReader([]byte("x"))); err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
				if _, dup := got[fi.Name]; dup {
					t.Errorf("%s listed twice", fi.Name)
				}
				if fi.ModTime.IsZero() {
					t.Errorf("%s listed without a modification time", fi.Name)
				}
				got[fi.Name] = fi.Size
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("List(data) = %v\nwant %v", got, want)
			}
			var snaps []string
			if err := be.List(ctx, backend.SnapshotFile, func(fi backend.FileInfo) error {
				snaps = append(snaps, fi.Name)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(snaps, []string{"abcd"}) {
				t.Errorf("List(snapshot) = %v", snaps)
			}
		})
	}
}

// TestLayout checks that objects land where restic puts them.
func TestLayout(t *testing.T) {
	ts := s3Server(t)
	if ts.dataDir == "" {
		t.Skip("S3_DATA_DIR not set")
	}
	ctx := context.Background()
	prefix := uniquePrefix(t)
	be, err := s3.New(ctx, ts.config(t, ts.bucket, prefix, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backendtest.RemoveAll(t, be) })
	id := strings.Repeat("ab", 32)
	files := map[backend.Handle]string{
		{Type: backend.ConfigFile}:                  "config",
		{Type: backend.PackFile, Name: id}:          "data/ab/" + id,
		{Type: backend.KeyFile, Name: id}:           "keys/" + id,
		{Type: backend.LockFile, Name: id}:          "locks/" + id,
		{Type: backend.SnapshotFile, Name: id}:      "snapshots/" + id,
		{Type: backend.IndexFile, Name: id}:         "index/" + id,
		{Type: backend.ConfigFile, Name: "ignored"}: "config",
	}
	for h, rel := range files {
		content := []byte("content of " + rel)
		if err := be.Save(ctx, h, backend.NewByteReader(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(ts.dataDir, ts.bucket, prefix, rel))
		if err != nil {
			t.Errorf("%v: %v", h, err)
		} else if !bytes.Equal(got, content) {
			t.Errorf("%v: stored %q, want %q", h, got, content)
		}
	}
}

// TestLoadDetectsTruncation shortens an object behind the server's back:
// reading past its end is a permanent ErrTooShort, not a missing file.
func TestLoadDetectsTruncation(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	be := ts.newBackend(t, nil)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("cd", 32)}
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	err := be.Load(ctx, h, 100, int64(len(data)-50), func(io.Reader) error {
		t.Error("fn called for a range past the end")
		return nil
	})
	if !errors.Is(err, backend.ErrTooShort) || !backend.IsPermanent(err) || backend.IsNotExist(err) {
		t.Errorf("Load past the end: %v, want a permanent ErrTooShort", err)
	}
	if !strings.Contains(err.Error(), be.Location()) || !strings.Contains(err.Error(), "<data/cdcdcdcdcd>") {
		t.Errorf("error does not name the location and the file: %v", err)
	}
}

func TestOpen(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	cfg := ts.config(t, ts.bucket, uniquePrefix(t), nil)
	_, err := s3.Open(ctx, cfg)
	if !errors.Is(err, backend.ErrNoRepository) {
		t.Fatalf("Open of an empty prefix: %v, want ErrNoRepository", err)
	}
	be, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backendtest.RemoveAll(t, be) })
	if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("cfg"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Open(ctx, cfg); err != nil {
		t.Fatalf("Open with a config file: %v", err)
	}
	// as restic's, the S3 backend leaves finding the config to the
	// repository's creation
	if err := be.Create(ctx); err != nil {
		t.Errorf("Create over an existing repository: %v", err)
	}
}

// TestConsistentListByServer: the backend trusts the test server's
// listings to be consistent (no lock check delay) exactly when it is MinIO.
func TestConsistentListByServer(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	cfg := ts.config(t, ts.bucket, uniquePrefix(t), nil)
	be, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if be.Properties().ConsistentList {
		t.Fatal("consistent listing claimed before the server answered")
	}
	if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("cfg"))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backendtest.RemoveAll(t, be) })
	opened, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := os.Getenv("S3_SERVER") == "minio"
	if got := opened.Properties().ConsistentList; got != want {
		t.Errorf("%s (S3_SERVER=%q): consistent listing %v, want %v", ts.endpoint, os.Getenv("S3_SERVER"), got, want)
	}
}

// TestConsistentListByEndpoint: AWS and Cloudflare R2 are trusted to list
// consistently by their endpoint's name alone, other endpoints are not
// (before an answer shows MinIO, TestConsistentListByServer).
func TestConsistentListByEndpoint(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"s3.amazonaws.com":                               true,
		"s3.eu-west-1.amazonaws.com":                     true,
		"s3-eu-west-1.amazonaws.com":                     true,
		"eu-central-1":                                   true,
		"0123abcd.r2.cloudflarestorage.com":              true,
		"0123abcd.eu.r2.cloudflarestorage.com":           true,
		"0123ABCD.R2.CloudflareStorage.com:443":          true,
		"r2.cloudflarestorage.com.example.net":           false,
		"r2.cloudflarestorage.com":                       false,
		"fake-r2.cloudflarestorage.com.attacker.example": false,
		"s3.wasabisys.com":                               false,
		"storage.googleapis.com":                         false,
		"minio.example.com":                              false,
		"127.0.0.1:9000":                                 false,
	} {
		be, err := s3.New(context.Background(), s3.Config{Endpoint: endpoint, Bucket: "b", Region: "auto"})
		if err != nil {
			t.Fatalf("%s: %v", endpoint, err)
		}
		if got := be.Properties().ConsistentList; got != want {
			t.Errorf("%s: consistent listing %v, want %v", endpoint, got, want)
		}
	}
}

func TestIsMinIO(t *testing.T) {
	for server, want := range map[string]bool{
		"MinIO":                              true,
		"MinIO/RELEASE.2021-06-17T00-10-46Z": true,
		"minio":                              true,
		"":                                   false,
		"AmazonS3":                           false,
		"nginx":                              false,
		"VERSITYGW":                          false,
		"MinIO-compatible gateway":           false,
		"Ceph Object Gateway (squid)":        false,
	} {
		if got := s3.IsMinIO(server); got != want {
			t.Errorf("Server %q: MinIO %v, want %v", server, got, want)
		}
	}
}

// TestCreateBucket lets Create make a bucket that does not exist yet.
func TestCreateBucket(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	bucket := "arca-new-" + hex.EncodeToString(b[:])
	be, err := s3.New(ctx, ts.config(t, bucket, "repo", nil))
	if err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.KeyFile, Name: "k"}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("key"))); err == nil || !backend.IsPermanent(err) {
		t.Errorf("Save into a missing bucket: %v, want a permanent error", err)
	}
	if err := be.Create(ctx); err != nil {
		t.Fatalf("Create with a missing bucket: %v", err)
	}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("key"))); err != nil {
		t.Fatalf("Save after Create: %v", err)
	}
	if err := be.Create(ctx); err != nil {
		t.Fatalf("Create again (bucket exists, no config): %v", err)
	}
	backendtest.RemoveAll(t, be)
	if ts.dataDir != "" {
		_ = os.RemoveAll(filepath.Join(ts.dataDir, bucket))
	}
}

// TestBadCredentials: a wrong secret is a permanent error, not a missing file.
func TestBadCredentials(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-0123456789")
	be, err := s3.New(ctx, ts.config(t, ts.bucket, uniquePrefix(t), nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = be.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	if err == nil || !backend.IsPermanent(err) || backend.IsNotExist(err) {
		t.Errorf("Stat with a wrong secret: %v, want a permanent error that is not ErrNotExist", err)
	}
	err = be.Save(ctx, backend.Handle{Type: backend.LockFile, Name: "l"}, backend.NewByteReader([]byte("x")))
	if err == nil || !backend.IsPermanent(err) {
		t.Errorf("Save with a wrong secret: %v, want a permanent error", err)
	}
	if err := be.List(ctx, backend.LockFile, func(backend.FileInfo) error { return nil }); err == nil || !backend.IsPermanent(err) {
		t.Errorf("List with a wrong secret: %v, want a permanent error", err)
	}
	if got := s3.Describe(err); got != "Access Denied." {
		t.Errorf("Describe(%v) = %q", err, got)
	}

	// Unsigned requests are refused by this server in the same way.
	anon, err := s3.New(ctx, ts.config(t, ts.bucket, uniquePrefix(t), map[string]string{"s3.unsafe-anonymous-auth": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err == nil || !backend.IsPermanent(err) || backend.IsNotExist(err) {
		t.Errorf("anonymous Stat: %v, want a permanent error", err)
	}
}

func TestStorageClassUpload(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	be := ts.newBackend(t, map[string]string{"s3.storage-class": "STANDARD"})
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ef", 32)}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("data"))); err != nil {
		t.Fatalf("Save with storage class STANDARD: %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	loc := &location.S3Config{Endpoint: "127.0.0.1:9000", UseHTTP: true, Bucket: "b", Prefix: "p/q", Connections: 5}
	cfg, err := s3.NewConfig(loc, map[string]string{
		"s3.region": "eu-west-3", "s3.bucket-lookup": "DNS", "s3.storage-class": "STANDARD_IA",
		"s3.connections": "9", "s3.list-objects-v1": "true", "sftp.command": "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-3" || cfg.BucketLookup != s3.LookupDNS || cfg.StorageClass != "STANDARD_IA" ||
		cfg.Connections != 9 || !cfg.ListObjectsV1 || cfg.Prefix != "p/q" || cfg.Bucket != "b" {
		t.Errorf("NewConfig = %+v", cfg)
	}
	if got := cfg.String(); got != "s3:http://127.0.0.1:9000/b/p/q" {
		t.Errorf("String() = %q", got)
	}
	for opts, want := range map[string]string{
		"s3.bucket-lookup=virtual": "bad bucket-lookup style",
		"s3.connections=0":         "s3.connections",
		"s3.connections=x":         "s3.connections",
		"s3.list-objects-v1=maybe": "s3.list-objects-v1",
		"s3.unknown=1":             "option s3.unknown is not known",
		"s3.enable-restore=true":   "not supported",
		"s3.retries=-1":            "s3.retries",
	} {
		k, v, _ := strings.Cut(opts, "=")
		if _, err := s3.NewConfig(loc, map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewConfig(-o %s) = %v, want an error containing %q", opts, err, want)
		}
	}
	if _, err := s3.NewConfig(loc, map[string]string{"s3.x": "1"}); !errors.Is(err, s3.ErrUnknownOption) {
		t.Errorf("unknown option: %v, want ErrUnknownOption", err)
	}
	cfg, err = s3.NewConfig(loc, map[string]string{"s3.layout": "default", "s3.retries": "7", "s3.unsafe-anonymous-auth": "true",
		"s3.enable-restore": "false", "s3.restore-days": "3", "s3.restore-tier": "Bulk", "s3.restore-timeout": "1h"})
	if err != nil || cfg.MaxRetries != 7 || !cfg.Anonymous {
		t.Errorf("NewConfig with restic's other options = %+v, %v", cfg, err)
	}
	if _, err := s3.NewConfig(&location.S3Config{Endpoint: "bucket-only"}, nil); err == nil {
		t.Errorf("NewConfig without a bucket succeeded")
	}
}

func TestEndpoints(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	tests := []struct {
		endpoint, region string
		useHTTP          bool
		isAWS            bool
		pathStyle        bool
		wantRegion       string
		wantBase         string
	}{
		{"127.0.0.1:9000", "", true, false, true, "us-east-1", "http://127.0.0.1:9000"},
		{"minio.example.com", "eu-west-1", false, false, true, "eu-west-1", "https://minio.example.com"},
		{"s3.amazonaws.com", "us-east-1", false, true, false, "us-east-1", "https://s3.us-east-1.amazonaws.com"},
		{"s3.amazonaws.com", "eu-west-1", false, true, false, "eu-west-1", "https://s3.eu-west-1.amazonaws.com"},
		{"s3.eu-central-1.amazonaws.com", "", false, true, false, "eu-central-1", "https://s3.eu-central-1.amazonaws.com"},
		{"s3-ap-south-1.amazonaws.com", "", false, true, false, "ap-south-1", "https://s3-ap-south-1.amazonaws.com"},
		{"eu-central-1", "", false, true, false, "eu-central-1", "https://s3.eu-central-1.amazonaws.com"},
		{"us-gov-west-1", "", false, true, false, "us-gov-west-1", "https://s3.us-gov-west-1.amazonaws.com"},
	}
	for _, tc := range tests {
		cfg := s3.Config{Endpoint: tc.endpoint, UseHTTP: tc.useHTTP, Bucket: "b", Region: tc.region}
		if isAWS, _ := cfg.AWSEndpoint(); isAWS != tc.isAWS {
			t.Errorf("%s: AWS = %v, want %v", tc.endpoint, isAWS, tc.isAWS)
		}
		if got := cfg.UsePathStyle(); got != tc.pathStyle {
			t.Errorf("%s: path style = %v, want %v", tc.endpoint, got, tc.pathStyle)
		}
		be, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := be.Config().Region; got != tc.wantRegion {
			t.Errorf("%s: region %q, want %q", tc.endpoint, got, tc.wantRegion)
		}
		if got := be.BaseEndpoint(); got != tc.wantBase {
			t.Errorf("%s: base endpoint %q, want %q", tc.endpoint, got, tc.wantBase)
		}
		// AWS lists consistently; the other endpoints here are not trusted
		// before they answer (and then only MinIO)
		if got := be.Properties().ConsistentList; got != tc.isAWS {
			t.Errorf("%s: consistent listing %v, want %v", tc.endpoint, got, tc.isAWS)
		}
	}
	// restic reads AWS_DEFAULT_REGION, and not AWS_REGION
	t.Setenv("AWS_REGION", "eu-west-3")
	be, err := s3.New(context.Background(), s3.Config{Endpoint: "127.0.0.1:1", Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := be.Config().Region; got != "us-east-1" {
		t.Errorf("region with AWS_REGION alone: %q, want us-east-1", got)
	}
	t.Setenv("AWS_DEFAULT_REGION", "ca-central-1")
	be, err = s3.New(context.Background(), s3.Config{Endpoint: "127.0.0.1:1", Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := be.Config().Region; got != "ca-central-1" {
		t.Errorf("region from AWS_DEFAULT_REGION: %q", got)
	}
	for lookup, want := range map[string]bool{"path": true, "dns": false, "auto": false} {
		cfg := s3.Config{Endpoint: "s3.amazonaws.com", Bucket: "b", BucketLookup: lookup}
		if cfg.UsePathStyle() != want {
			t.Errorf("bucket-lookup %s on AWS: path style %v, want %v", lookup, !want, want)
		}
	}
}

func TestStorageClassChoice(t *testing.T) {
	for _, tc := range []struct {
		class      string
		data, meta string
	}{
		{"", "", ""},
		{"STANDARD_IA", "STANDARD_IA", "STANDARD_IA"},
		{"GLACIER", "GLACIER", ""},
		{"DEEP_ARCHIVE", "DEEP_ARCHIVE", ""},
	} {
		cfg := s3.Config{StorageClass: tc.class}
		if got := cfg.StorageClassFor(true); got != tc.data {
			t.Errorf("%q: data files get %q, want %q", tc.class, got, tc.data)
		}
		if got := cfg.StorageClassFor(false); got != tc.meta {
			t.Errorf("%q: metadata files get %q, want %q", tc.class, got, tc.meta)
		}
	}
}

// TestCABundleOnlyForHTTPS: a CA bundle from AWS_CA_BUNDLE (which restic
// ignores) is read only where it could be used, for an HTTPS endpoint
// through the SDK's own transport. Over plain HTTP, or through a
// transport of arca's, a missing or unparsable bundle does not stop the
// backend; for HTTPS through the SDK's transport a missing one is an
// error.
func TestCABundleOnlyForHTTPS(t *testing.T) {
	ts := s3Server(t)
	ctx := context.Background()
	cfg := ts.config(t, ts.bucket, uniquePrefix(t), nil)
	if !cfg.UseHTTP {
		t.Skipf("the test server %s is not plain HTTP", ts.endpoint)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	unparsable := filepath.Join(t.TempDir(), "unparsable.pem")
	if err := os.WriteFile(unparsable, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.ConfigFile}
	for i, bundle := range []string{missing, unparsable} {
		t.Setenv("AWS_CA_BUNDLE", bundle)
		be, err := s3.New(ctx, cfg)
		if err != nil {
			t.Fatalf("AWS_CA_BUNDLE=%s over plain HTTP: %v", bundle, err)
		}
		if i == 0 {
			t.Cleanup(func() { backendtest.RemoveAll(t, be) })
			if err := be.Save(ctx, h, backend.NewByteReader([]byte("cfg"))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := be.Stat(ctx, h); err != nil {
			t.Errorf("AWS_CA_BUNDLE=%s over plain HTTP: %v", bundle, err)
		}
	}

	t.Setenv("AWS_CA_BUNDLE", missing)
	https := s3.Config{Endpoint: "127.0.0.1:1", Bucket: "b", Region: "us-east-1"}
	if _, err := s3.New(ctx, https); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing AWS_CA_BUNDLE for an HTTPS endpoint through the SDK's transport: %v, want the file's error", err)
	}
	https.Transport = http.DefaultTransport
	if _, err := s3.New(ctx, https); err != nil {
		t.Errorf("a missing AWS_CA_BUNDLE for an HTTPS endpoint through arca's transport: %v", err)
	}
}
