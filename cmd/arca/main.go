// Command arca is a drop-in replacement for the restic command line: the
// same commands, flags, environment variables, exit codes and output,
// backed by arca's engine (package repo). This package only parses flags
// and renders results; all repository logic lives below it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/feature"
)

// Exit codes, as restic defines them.
const (
	exitOK            = 0
	exitError         = 1
	exitPartial       = 3
	exitNoRepository  = 10
	exitLocked        = 11
	exitWrongPassword = 12
	exitInterrupted   = 130
)

func main() {
	manageProcessMemory = true
	stop := startProfiles()
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signalContext(stderr)
	defer stop()

	// restic reads its feature flags before anything else: a bad value
	// stops every command, even --help, with exit code 1
	features, err := feature.Parse(env("RESTIC_FEATURES"), func(msg string) { fmt.Fprintln(stderr, msg) })
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	app := newApp(stdin, stdout, stderr)
	app.features = features
	root := app.rootCommand()
	root.SetArgs(args)
	err = root.ExecuteContext(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	// an operation that stopped because its lock was lost says why
	err = engineError(err)
	code := exitCode(err)
	if code != exitOK {
		app.printExitError(code, exitMessage(err))
	}
	return code
}

// errPartial marks a command that finished but could not do everything
// (restic's exit code 3).
var errPartial = errors.New("not all data could be processed")

// signalContext returns a context cancelled by SIGINT or SIGTERM; as
// restic, it says so on stderr when the signal comes. stop ends the
// watch.
func signalContext(stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "\rsignal %v received, cleaning up \n", s)
			cancel()
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// fatalError is an error whose message is shown as it is, prefixed with
// "Fatal: ". cause, if set, is the error it reports (so that a
// cancellation still gives exit code 130).
type fatalError struct {
	msg   string
	cause error
}

func (e *fatalError) Error() string { return e.msg }
func (e *fatalError) Unwrap() error { return e.cause }

func fatalf(format string, args ...any) error {
	return &fatalError{msg: fmt.Sprintf(format, args...)}
}

func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errPartial), errors.Is(err, errSnapshotsNotRemoved):
		return exitPartial
	case errors.Is(err, repo.ErrNoRepository):
		return exitNoRepository
	case isLockConflict(err):
		return exitLocked
	case errors.Is(err, repo.ErrMaxKeysReached):
		return exitError // (restic's exit code, though no key opened)
	case errors.Is(err, repo.ErrWrongPassword):
		return exitWrongPassword
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitError
}

func exitMessage(err error) string {
	var fe *fatalError
	switch {
	case isLockConflict(err):
		return fmt.Sprintf("%v%s\nthe `unlock` command can be used to remove stale locks", err, lockVerdict(err))
	case errors.Is(err, errPartial):
		return fmt.Sprintf("Warning: %v", err)
	case errors.As(err, &fe):
		return "Fatal: " + fe.msg
	case errors.Is(err, repo.ErrMaxKeysReached):
		return "Fatal: " + repo.ErrMaxKeysReached.Error()
	case errors.Is(err, repo.ErrWrongPassword):
		return "Fatal: wrong password or no key found"
	case errors.Is(err, context.Canceled):
		return err.Error() // (the signal was reported when it came)
	}
	return err.Error()
}
