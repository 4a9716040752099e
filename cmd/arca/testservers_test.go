package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Private test servers: an instance of scripts/testservers/start-<kind>.sh
// for one test only, for tests that stop, kill or fill a server and must
// not disturb the CI-wide servers other tests use.

// privateServerCount numbers the private instances of this test process.
var privateServerCount atomic.Int64

// privateServerWanted tells, from the variables of the CI-wide server of
// kind, whether tests against that kind of server are wanted here.
func privateServerWanted(kind string) (bool, string) {
	switch kind {
	case "s3":
		return os.Getenv("S3_ENDPOINT") != "", "S3_ENDPOINT not set; start a server with scripts/testservers/start-s3.sh"
	case "sftp":
		return os.Getenv("SFTP_SERVER_MODE") == "sshd", "SFTP_SERVER_MODE is not sshd; start a server with scripts/testservers/start-sftp.sh"
	case "rest":
		return os.Getenv("REST_URL") != "", "REST_URL not set; start a server with scripts/testservers/start-rest.sh"
	}
	return false, "unknown server kind " + kind
}

// privateServerInputs are the scripts' input variables that a developer's
// shell may have set for the CI-wide servers; a private instance starts
// from the defaults instead.
var privateServerInputs = []string{
	"S3_LISTEN_PORT=", "S3_ACCESS_KEY=", "S3_SECRET_KEY=", "S3_TLS=",
	"SFTP_MODE=sshd", "SFTP_LISTEN_PORT=",
	"REST_AUTH=none", "REST_LISTEN_PORT=", "REST_USERNAME=", "REST_PASSWORD=",
	"REST_APPEND_ONLY=", "REST_PRIVATE_REPOS=", "KEEP_STATE=",
}

// startPrivateServer starts a server of kind ("s3", "sftp" or "rest")
// with start-<kind>.sh under an instance name of its own, with the extra
// environment env, stops it with stop-<kind>.sh when the test ends, and
// returns the variables the script printed. It skips the test where that
// kind of server is not wanted (see privateServerWanted).
func startPrivateServer(t *testing.T, kind string, env ...string) map[string]string {
	t.Helper()
	if ok, why := privateServerWanted(kind); !ok {
		t.Skip(why)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "testservers", "start-"+kind+".sh")
	instance := fmt.Sprintf("arca-%s-%d-%d", kind, os.Getpid(), privateServerCount.Add(1))
	cmd := exec.Command(script)
	cmd.Env = append(append(append(os.Environ(), privateServerInputs...), "INSTANCE="+instance), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	vars := parseExportLines(out)
	stateVar := strings.ToUpper(kind) + "_STATE_DIR"
	if dir := vars[stateVar]; dir != "" {
		stop := filepath.Join(filepath.Dir(script), "stop-"+kind+".sh")
		t.Cleanup(func() {
			if out, err := exec.Command(stop, dir).CombinedOutput(); err != nil {
				t.Errorf("stop-%s.sh %s: %v\n%s", kind, dir, err, out)
			}
		})
	}
	if err != nil {
		t.Fatalf("start-%s.sh: %v\n%s", kind, err, stderr.String())
	}
	if vars[stateVar] == "" {
		t.Fatalf("start-%s.sh printed no %s:\n%s", kind, stateVar, out)
	}
	return vars
}

// parseExportLines reads the scripts' `export NAME=value` lines; values
// may be single-quoted in the POSIX shell's way.
func parseExportLines(out []byte) map[string]string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "), "=")
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

// serverProcess is a running private server that a test can kill and
// start again on the same port and data.
type serverProcess struct {
	pid  int
	addr string // 127.0.0.1:PORT
	log  string // server log, appended to by restarts
	// how the process was started, read from /proc
	argv, env []string
	dir       string
}

// newServerProcess describes the private server of kind that vars (what
// start-<kind>.sh printed) belong to.
func newServerProcess(t *testing.T, kind string, vars map[string]string) *serverProcess {
	t.Helper()
	k := strings.ToUpper(kind)
	pid, err := strconv.Atoi(vars[k+"_PID"])
	if err != nil {
		t.Fatalf("%s_PID: %v", k, err)
	}
	host, port := vars[k+"_HOST"], vars[k+"_PORT"]
	if host == "" || port == "" {
		t.Fatalf("start-%s.sh printed no %s_HOST/%s_PORT", kind, k, k)
	}
	s := &serverProcess{pid: pid, addr: net.JoinHostPort(host, port), log: vars[k+"_LOG"]}
	if s.argv, err = procStrings(pid, "cmdline"); err != nil {
		t.Fatalf("read the server's command line: %v", err)
	}
	if kind == "sftp" {
		// sshd rewrites its command line ("sshd: ... [listener]"); this
		// is how start-sftp.sh starts it
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			t.Fatal(err)
		}
		s.argv = []string{exe, "-D", "-e", "-f", filepath.Join(vars["SFTP_STATE_DIR"], "ssh", "sshd_config")}
	}
	if s.env, err = procStrings(pid, "environ"); err != nil {
		t.Fatalf("read the server's environment: %v", err)
	}
	if s.dir, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil {
		t.Fatalf("read the server's directory: %v", err)
	}
	return s
}

// kill sends SIGKILL to the server and to every process below it (sshd
// serves each connection from a child process: killing only the listener
// would leave the sessions running), and waits until the port is closed.
func (s *serverProcess) kill(t *testing.T) {
	t.Helper()
	for _, pid := range append(descendantPIDs(s.pid), s.pid) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("kill %d: %v", pid, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the server on %s still accepts connections after SIGKILL", s.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart starts the killed server again, as it was started before but
// with the arguments extra added, and waits until its port accepts
// connections. The test stops it when it ends (before stop-<kind>.sh
// removes the state).
func (s *serverProcess) restart(t *testing.T, extra ...string) {
	t.Helper()
	cmd := exec.Command(s.argv[0], append(append([]string{}, s.argv[1:]...), extra...)...)
	cmd.Env, cmd.Dir = s.env, s.dir
	logf, err := os.OpenFile(s.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("restart %s: %v", s.argv[0], err)
	}
	s.pid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("the restarted server exited (log %s)", s.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted server does not accept connections on %s: %v", s.addr, err)
		}
	}
}

// procStrings reads a NUL-separated file of /proc/PID.
func procStrings(pid int, name string) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// descendantPIDs returns the PIDs of all processes below pid.
func descendantPIDs(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}
