// Package resttest gives tests REST servers (`rclone serve restic`) on
// 127.0.0.1 and fresh repository locations on them.
//
// The server without authentication comes from the environment that
// scripts/testservers/start-rest.sh prints (REST_URL, REST_ROOT); tests skip
// when REST_URL is unset. A server with HTTP basic authentication is
// started by the same script for the calling test process and stopped by
// its PID when the test ends.
package resttest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Server is a running REST server.
type Server struct {
	// URL is the server's root, "http://127.0.0.1:PORT/", without credentials.
	URL string
	// Username and Password are set when the server requires them.
	Username, Password string
	// Root is the directory the server serves ("" when unknown).
	Root string
}

// FromEnv returns the server described by REST_URL and REST_ROOT, and skips
// the test when REST_URL is unset.
func FromEnv(t testing.TB) Server {
	t.Helper()
	u := os.Getenv("REST_URL")
	if u == "" {
		t.Skip("REST_URL not set (eval \"$(scripts/testservers/start-rest.sh)\" to run REST tests)")
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return Server{URL: u, Root: os.Getenv("REST_ROOT")}
}

// StartAuth starts a REST server that requires HTTP basic authentication,
// for this test only. Like FromEnv it skips when REST_URL is unset: the
// REST tests are not wanted then.
func StartAuth(t testing.TB) Server {
	t.Helper()
	FromEnv(t)
	script := filepath.Join(moduleRoot(t), "scripts", "testservers", "start-rest.sh")
	instance := fmt.Sprintf("arca-auth-%d-%s", os.Getpid(), randomName(4))
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), "REST_AUTH=htpasswd", "INSTANCE="+instance,
		"REST_LISTEN_PORT=", "REST_USERNAME=", "REST_PASSWORD=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start-rest.sh: %v\n%s", err, stderr.String())
	}
	vars := parseExports(out)
	if stateDir := vars["REST_STATE_DIR"]; stateDir != "" {
		t.Cleanup(func() {
			stop := exec.Command(filepath.Join(filepath.Dir(script), "stop-rest.sh"), stateDir)
			if out, err := stop.CombinedOutput(); err != nil {
				t.Errorf("stop-rest.sh %s: %v\n%s", stateDir, err, out)
			}
		})
	}
	if vars["REST_URL"] == "" || vars["REST_PASSWORD"] == "" {
		t.Fatalf("start-rest.sh printed no URL or password:\n%s", out)
	}
	return Server{URL: vars["REST_URL"], Username: vars["REST_USERNAME"], Password: vars["REST_PASSWORD"], Root: vars["REST_ROOT"]}
}

// parseExports reads `export NAME=value` lines (values may be single-quoted).
func parseExports(out []byte) map[string]string {
	vars := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
		}
		vars[k] = v
	}
	return vars
}

// NewRepo returns the URL ("http://[user:pass@]127.0.0.1:PORT/<name>/") of a
// fresh, not yet created repository location on s, and removes what the
// test stored there when it ends.
func (s Server) NewRepo(t testing.TB) string {
	t.Helper()
	name := "test-" + randomName(8)
	if s.Root != "" {
		t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(s.Root, name)) })
	}
	return s.WithCredentials(s.Username, s.Password) + name + "/"
}

// WithCredentials returns the server URL with user:password@ in it (none
// when both are empty).
func (s Server) WithCredentials(user, password string) string {
	if user == "" && password == "" {
		return s.URL
	}
	scheme, rest, _ := strings.Cut(s.URL, "://")
	return scheme + "://" + user + ":" + password + "@" + rest
}

func randomName(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// moduleRoot finds the directory holding go.mod above the working directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
