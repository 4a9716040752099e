package sftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// stderrLines is how many of the subprocess's last stderr lines are kept
// for error messages.
const stderrLines = 10

// stderrGrace is how long an error waits for the subprocess's last stderr
// output and exit status after the connection broke.
const stderrGrace = time.Second

// closeTimeout is how long Close waits for the subprocess to exit after its
// standard input was closed before it kills it.
const closeTimeout = 2 * time.Second

// process is the ssh (or sftp.command) subprocess and the SFTP client
// speaking over its standard input and output.
type process struct {
	program string
	cmd     *exec.Cmd
	client  *sftp.Client

	// exited is closed when the process has exited; exitErr is then set.
	exited  chan struct{}
	exitErr error

	// stderrDone is closed when the stderr pipe reached its end.
	stderrDone chan struct{}
	mu         sync.Mutex
	tail       []string // last stderr lines
	forwarded  bool     // lines go to a StderrLine callback
}

// startProcess runs the configured command and opens an SFTP session over
// its standard input and output. It gives up when ctx ends or the process
// exits before the session is up.
func startProcess(ctx context.Context, cfg Config) (*process, error) {
	program, args, err := cfg.command()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(program, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// stderr gets a pipe of its own, not cmd.StderrPipe: Wait closes those
	// pipes at exit, which could drop ssh's last words (why it failed).
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderrW

	p := &process{
		program:    program,
		cmd:        cmd,
		exited:     make(chan struct{}),
		stderrDone: make(chan struct{}),
		forwarded:  cfg.StderrLine != nil,
	}
	restoreTTY, err := startInForeground(cmd)
	_ = stderrW.Close() // the child has its own copy
	if err != nil {
		_ = stderrR.Close()
		if errors.Is(err, exec.ErrDot) {
			return nil, fmt.Errorf("cannot implicitly run relative executable %v found in current directory, use -o sftp.command=./<command> to override", cmd.Path)
		}
		return nil, fmt.Errorf("start %s: %w", program, err)
	}
	go p.readStderr(stderrR, cfg.StderrLine)
	go func() {
		// Wait closes stdin and stdout, which ends the client's receive
		// loop: requests fail instead of waiting for an answer forever.
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()

	type result struct {
		c   *sftp.Client
		err error
	}
	started := make(chan result, 1)
	go func() {
		c, err := sftp.NewClientPipe(stdout, stdin,
			// Several 32 KiB writes of one file in flight, as restic does.
			sftp.UseConcurrentWrites(true),
			sftp.MaxConcurrentRequestsPerFile(128))
		started <- result{c, err}
	}()
	var res result
	select {
	case res = <-started:
	case <-ctx.Done():
		res.err = ctx.Err()
	}
	if err := restoreTTY(); err != nil && res.err == nil {
		res.err = err
	}
	if res.err != nil {
		p.kill()
		if res.c != nil {
			_ = res.c.Close()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("unable to start the sftp session: %w", ctx.Err())
		}
		if errors.Is(res.err, os.ErrClosed) {
			// Wait closed stdout before the client read its end.
			res.err = fmt.Errorf("error receiving version packet from server: server unexpectedly closed connection: %w", io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("unable to start the sftp session, error: %v%s", res.err, p.exitReport())
	}
	p.client = res.c
	return p, nil
}

// readStderr collects the subprocess's stderr lines until the pipe closes.
func (p *process) readStderr(r io.ReadCloser, forward func(string)) {
	defer close(p.stderrDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > stderrLines {
			p.tail = p.tail[len(p.tail)-stderrLines:]
		}
		p.mu.Unlock()
		if forward != nil {
			forward(line)
		}
	}
}

// hasExited reports whether the process has exited.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitReport describes how the subprocess ended, for error messages: its
// exit status and, unless the lines were forwarded as they came, the last
// lines of its stderr. It waits up to stderrGrace for the process to exit.
func (p *process) exitReport() string {
	timer := time.NewTimer(stderrGrace)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		return ""
	}
	select {
	case <-p.stderrDone:
	case <-timer.C:
	}
	var b strings.Builder
	status := "exited"
	if p.exitErr != nil {
		status = p.exitErr.Error()
	}
	fmt.Fprintf(&b, " (subprocess %s: %s", p.program, status)
	p.mu.Lock()
	tail := strings.Join(p.tail, "; ")
	p.mu.Unlock()
	if tail != "" && !p.forwarded {
		fmt.Fprintf(&b, "; stderr: %s", tail)
	}
	b.WriteString(")")
	return b.String()
}

// kill ends the process at once and waits for it.
func (p *process) kill() {
	if !p.hasExited() {
		_ = killProcess(p.cmd)
	}
	<-p.exited
}

// close ends the SFTP session, which closes the subprocess's standard
// input; a process still running after closeTimeout is killed.
func (p *process) close() error {
	closed := make(chan error, 1)
	go func() { closed <- p.client.Close() }()
	timer := time.NewTimer(closeTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.kill()
	}
	<-closed // returns once the receive loop saw the pipe close
	if p.exitErr != nil && !isKilled(p.exitErr) {
		return fmt.Errorf("subprocess %s: %w", p.program, p.exitErr)
	}
	return nil
}

// isKilled reports whether the process ended by a signal, as one does that
// close had to kill.
func isKilled(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && !ee.Exited()
}
