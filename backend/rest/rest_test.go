package rest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/backend/rest"
	"github.com/arca-backup/arca/backend/rest/resttest"
)

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newBackend(t *testing.T, cfg rest.Config) *rest.Backend {
	t.Helper()
	be, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// createRepo returns a backend on a fresh repository created on s.
func createRepo(t *testing.T, s resttest.Server) *rest.Backend {
	t.Helper()
	be := newBackend(t, rest.Config{URL: mustParse(t, s.NewRepo(t))})
	if err := be.Create(context.Background()); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return be
}

func TestConformance(t *testing.T) {
	s := resttest.FromEnv(t)
	backendtest.Run(t, func(t *testing.T) backend.Backend { return createRepo(t, s) })
}

// TestAuth runs the tests that need a server with HTTP basic
// authentication on one such server.
func TestAuth(t *testing.T) {
	s := resttest.StartAuth(t)
	t.Run("Conformance", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend { return createRepo(t, s) })
	})
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, s) })
}

// TestRepositoryLayout checks the URLs files go to: data files without the
// two-character subdirectory in the URL, config at the top.
func TestRepositoryLayout(t *testing.T) {
	s := resttest.FromEnv(t)
	if s.Root == "" {
		t.Skip("REST_ROOT not set")
	}
	be := createRepo(t, s)
	ctx := context.Background()
	name := strings.Repeat("ab", 32)
	for _, h := range []backend.Handle{{Type: backend.ConfigFile}, {Type: backend.PackFile, Name: name}, {Type: backend.SnapshotFile, Name: name}} {
		if err := be.Save(ctx, h, backend.NewByteReader([]byte("x"))); err != nil {
			t.Fatalf("Save(%v): %v", h, err)
		}
	}
	// On disk the server keeps restic's layout: data/ab/<name>.
	repoDir := filepath.Join(s.Root, filepath.Base(mustParse(t, be.Location()[len("rest:"):]).Path))
	for _, path := range []string{"config", "data/ab/" + name, "snapshots/" + name} {
		if _, err := os.Stat(filepath.Join(repoDir, path)); err != nil {
			t.Errorf("file missing on the server: %v", err)
		}
	}
}

// testCredentials checks basic authentication from the URL and from
// SetCredentials, the errors for wrong or missing credentials, and that
// the password never shows.
func testCredentials(t *testing.T, s resttest.Server) {
	ctx := context.Background()
	good := createRepo(t, s)
	if err := good.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("cfg"))); err != nil {
		t.Fatal(err)
	}
	repoURL := mustParse(t, good.Location()[len("rest:"):])
	if strings.Contains(good.Location(), s.Password) || !strings.Contains(good.Location(), s.Username+":***@") {
		t.Errorf("Location() = %q, want the password hidden", good.Location())
	}

	// Credentials from SetCredentials (the environment in the CLI).
	noCreds := *repoURL
	noCreds.User = nil
	cfg := rest.Config{URL: &noCreds}
	cfg.SetCredentials(s.Username, s.Password)
	be := newBackend(t, cfg)
	if fi, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil || fi.Size != 3 {
		t.Errorf("Stat with credentials from SetCredentials: %+v, %v", fi, err)
	}
	if strings.Contains(be.Location(), s.Password) {
		t.Errorf("Location() = %q shows the password", be.Location())
	}

	// Credentials in the URL win over SetCredentials.
	wrongInURL := *repoURL
	wrongInURL.User = url.UserPassword(s.Username, "wrong-password")
	cfg = rest.Config{URL: &wrongInURL}
	cfg.SetCredentials(s.Username, s.Password)
	for name, be := range map[string]*rest.Backend{
		"wrong password": newBackend(t, cfg),
		"no credentials": newBackend(t, rest.Config{URL: &noCreds}),
	} {
		_, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
		if err == nil {
			t.Fatalf("%s: Stat succeeded", name)
		}
		if got, want := err.Error(), "unexpected HTTP response (401): 401 Unauthorized"; got != want {
			t.Errorf("%s: error %q, want %q", name, got, want)
		}
		if !backend.IsPermanent(err) || backend.IsNotExist(err) {
			t.Errorf("%s: error %v: permanent %v, not-exist %v; want permanent only", name, err, backend.IsPermanent(err), backend.IsNotExist(err))
		}
		var se *rest.StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: error %v is no StatusError with code 401", name, err)
		}
		err = be.Save(ctx, backend.Handle{Type: backend.LockFile, Name: "abcd"}, backend.NewByteReader([]byte("x")))
		if err == nil || !backend.IsPermanent(err) || strings.Contains(err.Error(), "wrong-password") {
			t.Errorf("%s: Save: %v", name, err)
		}
	}
}

func TestMissingFileMessage(t *testing.T) {
	s := resttest.FromEnv(t)
	be := createRepo(t, s)
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("0123456789", 6) + "abcd"}
	err := be.Load(context.Background(), h, 0, 0, func(io.Reader) error { return nil })
	if err == nil || err.Error() != "<data/0123456789> does not exist" || !backend.IsNotExist(err) {
		t.Errorf("Load of a missing file: %v, want restic's %q wrapping ErrNotExist", err, "<data/0123456789> does not exist")
	}
	_, err = be.Stat(context.Background(), backend.Handle{Type: backend.ConfigFile})
	if err == nil || err.Error() != "<config/> does not exist" {
		t.Errorf("Stat of a missing config: %v", err)
	}
}

func TestConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	be := newBackend(t, rest.Config{URL: mustParse(t, strings.Replace(u, "http://", "http://user:secret-pw@", 1)+"/repo/")})
	_, err := be.Stat(context.Background(), backend.Handle{Type: backend.ConfigFile})
	if err == nil {
		t.Fatal("Stat on a closed server succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "secret-pw") || !strings.Contains(msg, "/repo/config") || !strings.Contains(msg, "refused") {
		t.Errorf("error %q: want the file's URL and the cause, without the password", msg)
	}
	if backend.IsPermanent(err) {
		t.Errorf("a refused connection is permanent: %v", err)
	}
}

func TestFromLocation(t *testing.T) {
	l, err := location.Parse("rest:https://u:p@example.com:8000/a/b")
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.FromLocation(l.Config.(*location.RESTConfig))
	if cfg.Connections != 5 || cfg.URL.String() != "https://u:p@example.com:8000/a/b/" {
		t.Errorf("FromLocation = %v, %d", cfg.URL, cfg.Connections)
	}
	be := newBackend(t, cfg)
	if got, want := be.Location(), "rest:https://u:***@example.com:8000/a/b/"; got != want {
		t.Errorf("Location() = %q, want %q", got, want)
	}
	if _, err := rest.New(rest.Config{URL: mustParse(t, "ftp://host/")}); err == nil {
		t.Errorf("New accepted an ftp URL")
	}
}

func TestSetCredentials(t *testing.T) {
	for _, tc := range []struct{ url, user, pass, want string }{
		{"http://h/r/", "u", "p", "http://u:p@h/r/"},
		{"http://h/r/", "", "", "http://h/r/"},
		{"http://x@h/r/", "u", "p", "http://x@h/r/"},
		{"http://x:y@h/r/", "u", "p", "http://x:y@h/r/"},
		{"http://:y@h/r/", "u", "p", "http://:y@h/r/"},
	} {
		cfg := rest.Config{URL: mustParse(t, tc.url)}
		cfg.SetCredentials(tc.user, tc.pass)
		if got := cfg.URL.String(); got != tc.want {
			t.Errorf("SetCredentials(%q, %q) on %s: %s, want %s", tc.user, tc.pass, tc.url, got, tc.want)
		}
	}
}

// TestServerIgnoringRange talks to a server that answers every GET with
// the whole file (200) and lists with protocol v1: Load still returns the
// requested range, List asks for each size.
func TestServerIgnoringRange(t *testing.T) {
	content := "0123456789abcdefghij"
	var heads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/repo/data/":
			w.Header().Set("Content-Type", rest.ContentTypeV1)
			fmt.Fprint(w, `["aa","bb"]`)
		case r.Method == http.MethodHead:
			heads.Add(1)
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		case r.Method == http.MethodGet && r.URL.Path == "/repo/data/aa":
			fmt.Fprint(w, content)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	be := newBackend(t, rest.Config{URL: mustParse(t, srv.URL+"/repo")})
	h := backend.Handle{Type: backend.PackFile, Name: "aa"}
	for _, tc := range []struct {
		length int
		offset int64
		want   string
	}{{0, 0, content}, {5, 3, "34567"}, {0, 15, "fghij"}, {2, 18, "ij"}} {
		var got []byte
		err := be.Load(context.Background(), h, tc.length, tc.offset, func(rd io.Reader) (err error) {
			got, err = io.ReadAll(rd)
			return err
		})
		if err != nil || string(got) != tc.want {
			t.Errorf("Load(%d, %d) = %q, %v; want %q", tc.length, tc.offset, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		length int
		offset int64
	}{{5, 18}, {1, 25}} {
		err := be.Load(context.Background(), h, tc.length, tc.offset, func(rd io.Reader) error {
			_, err := io.ReadAll(rd)
			return err
		})
		if !errors.Is(err, backend.ErrTooShort) || !backend.IsPermanent(err) {
			t.Errorf("Load(%d, %d) beyond the end: %v, want a permanent ErrTooShort", tc.length, tc.offset, err)
		}
	}
	var names []string
	err := be.List(context.Background(), backend.PackFile, func(fi backend.FileInfo) error {
		if fi.Size != int64(len(content)) {
			t.Errorf("List: %s has size %d", fi.Name, fi.Size)
		}
		names = append(names, fi.Name)
		return nil
	})
	if err != nil || len(names) != 2 || heads.Load() != 2 {
		t.Errorf("v1 List: %v, %v, %d HEAD requests", names, err, heads.Load())
	}
}

// TestStatusClassification checks which answers are retried.
func TestStatusClassification(t *testing.T) {
	var code atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	be := newBackend(t, rest.Config{URL: mustParse(t, srv.URL+"/repo/")})
	h := backend.Handle{Type: backend.IndexFile, Name: "abc"}
	for _, tc := range []struct {
		code                int
		permanent, notExist bool
	}{
		{400, true, false}, {401, true, false}, {403, true, false}, {404, true, true},
		{408, false, false}, {429, false, false}, {500, false, false}, {502, false, false},
		{503, false, false}, {507, true, false},
	} {
		code.Store(int32(tc.code))
		err := be.Remove(context.Background(), h)
		if err == nil {
			t.Errorf("HTTP %d: no error", tc.code)
			continue
		}
		if backend.IsPermanent(err) != tc.permanent || backend.IsNotExist(err) != tc.notExist {
			t.Errorf("HTTP %d: %v: permanent %v, not-exist %v", tc.code, err, backend.IsPermanent(err), backend.IsNotExist(err))
		}
	}
}

// TestConnectionLimit checks that no more than Connections requests run at once.
func TestConnectionLimit(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		w.Header().Set("Content-Length", "1")
	}))
	defer srv.Close()
	be := newBackend(t, rest.Config{URL: mustParse(t, srv.URL+"/repo/"), Connections: 2})
	done := make(chan error)
	for i := 0; i < 6; i++ {
		go func(i int) {
			_, err := be.Stat(context.Background(), backend.Handle{Type: backend.KeyFile, Name: fmt.Sprint(i)})
			done <- err
		}(i)
	}
	for i := 0; i < 6; i++ {
		if i == 0 {
			// let the first requests arrive before releasing any
			for running.Load() < 2 {
				runtime.Gosched()
			}
			close(release)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak of %d concurrent requests, want 2", p)
	}
}

// watchedReader counts the reads that come after the Save it was given
// to has returned.
type watchedReader struct {
	backend.RewindReader
	returned atomic.Bool
	late     atomic.Int32
}

func (w *watchedReader) Read(p []byte) (int, error) {
	if w.returned.Load() {
		w.late.Add(1)
	}
	return w.RewindReader.Read(p)
}

// TestSaveFailedEarlyReleasesReader: a server that fails an upload answers
// before it has read the body (rclone does so when its disk is full). Save
// must not return while the HTTP client still reads the body, because a
// retry rewinds and reads the same reader.
func TestSaveFailedEarlyReleasesReader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	be := newBackend(t, rest.Config{URL: mustParse(t, srv.URL+"/repo/")})
	body := make([]byte, 8<<20)
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	for range 10 {
		rd := &watchedReader{RewindReader: backend.NewByteReader(body)}
		if err := be.Save(context.Background(), h, rd); err == nil {
			t.Fatal("Save succeeded against a server that answers 500")
		}
		rd.returned.Store(true)
		time.Sleep(20 * time.Millisecond)
		if n := rd.late.Load(); n > 0 {
			t.Fatalf("the body was read %d times after Save returned", n)
		}
	}
}

// TestUntrustedCertificateIsPermanent: a server whose certificate is not
// trusted fails every request in the same way, so retrying is pointless.
func TestUntrustedCertificateIsPermanent(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	be := newBackend(t, rest.Config{URL: mustParse(t, srv.URL+"/repo/")})
	_, err := be.Stat(context.Background(), backend.Handle{Type: backend.ConfigFile})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Stat on a server with an untrusted certificate: %v", err)
	}
	if !backend.IsPermanent(err) || backend.IsNotExist(err) {
		t.Errorf("%v: permanent %v, not-exist %v; want a permanent error", err, backend.IsPermanent(err), backend.IsNotExist(err))
	}
}
