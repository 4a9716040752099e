package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

func init() { registerCommand(newInitCommand) }

type initOptions struct {
	from              secondaryRepoOptions
	copyChunkerParams bool
	repositoryVersion string
}

func newInitCommand(a *app) *cobra.Command {
	var opts initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Initialize a new repository",
		Long: `
The "init" command initializes a new repository.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
`,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runInit(c.Context(), &opts, args)
		},
	}
	f := cmd.Flags()
	opts.from.addFlags(f, "secondary", "to copy chunker parameters from")
	f.BoolVar(&opts.copyChunkerParams, "copy-chunker-params", false, "copy chunker parameters from the secondary repository (useful with the copy command)")
	f.StringVar(&opts.repositoryVersion, "repository-version", "stable", "repository format version to use, allowed values are a format version, 'latest' and 'stable'")
	return cmd
}

// initJSON is init's --json message.
type initJSON struct {
	MessageType string `json:"message_type"` // "initialized"
	ID          string `json:"id"`
	Repository  string `json:"repository"`
}

func (a *app) runInit(ctx context.Context, opts *initOptions, args []string) error {
	if len(args) > 0 {
		return fatalf("the init command expects no arguments, only options - please see `restic help init` for usage and flags")
	}
	var version uint
	switch opts.repositoryVersion {
	case "latest", "":
		version = model.MaxRepoVersion
	case "stable":
		version = model.StableRepoVersion
	default:
		v, err := strconv.ParseUint(opts.repositoryVersion, 10, 32)
		if err != nil {
			return fatalf("invalid repository version")
		}
		version = uint(v)
	}

	var pol *chunker.Pol
	if opts.copyChunkerParams {
		src, err := a.openSecondaryEngine(ctx, &opts.from, "secondary")
		if err != nil {
			return err
		}
		p := src.Config().ChunkerPolynomial
		pol = &p
		src.Close()
	} else if opts.from.anyRepo() {
		return fatalf("Secondary repository must only be specified when copying the chunker parameters")
	}

	r, err := a.createRepository(ctx, version, pol)
	if err != nil {
		// restic reports every failure here as a fatal error of its own,
		// so fatal errors get a second "Fatal: " prefix.
		var fe *fatalError
		if errors.As(err, &fe) {
			return fatalf("Fatal: %s", fe.msg)
		}
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fatalf("%v", err)
	}
	defer r.Backend().Close()
	defer r.Close()

	// restic shows the -r value (empty with --repository-file)
	shown := location.StripPassword(a.opts.Repo)
	if a.opts.JSON {
		// restic's encoder escapes HTML characters; so does this one
		return json.NewEncoder(a.stdout).Encode(initJSON{MessageType: "initialized", ID: r.Config().ID, Repository: shown})
	}
	a.printf("created restic repository %v at %s\n", r.Config().ID[:10], shown)
	if pol != nil {
		a.printf(" with chunker parameters copied from secondary repository\n")
	}
	a.printf("\n")
	a.printf("Please note that knowledge of your password is required to access\n")
	a.printf("the repository. Losing your password means that your data is\n")
	a.printf("irrecoverably lost.\n")
	return nil
}

// createRepository reads the location and the new password and creates
// the repository, with restic's messages for each failure.
func (a *app) createRepository(ctx context.Context, version uint, pol *chunker.Pol) (*repo.Repository, error) {
	if version < model.MinRepoVersion || version > model.MaxRepoVersion {
		return nil, fatalf("only repository versions between %v and %v are allowed", model.MinRepoVersion, model.MaxRepoVersion)
	}
	loc, err := a.opts.repositoryLocation()
	if err != nil {
		return nil, err
	}
	pw, err := a.readNewRepositoryPassword(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.opts.checkPackSize(); err != nil {
		// (restic has created the directories by then, arca creates
		// nothing)
		return nil, fatalf("%v", err)
	}
	be, err := a.createBackend(ctx, loc)
	if err != nil {
		return nil, err
	}
	shown := location.StripPassword(loc)
	e, err := engine.InitBackend(ctx, be, engine.InitOptions{
		Options: engine.Options{Password: pw},
		Create:  repo.CreateOptions{Version: version, ChunkerPolynomial: pol},
	})
	if err != nil {
		be.Close()
		var ce *repo.CreateError
		if errors.As(err, &ce) {
			if ce.Backend {
				return nil, fatalf("create repository at %s failed: %v", shown, ce.Err)
			}
			return nil, fatalf("create key in repository at %s failed: %v", shown, ce.Err)
		}
		return nil, err
	}
	return e.Repo(), nil
}

// readNewRepositoryPassword reads the password for a new repository; when
// it is typed at a terminal it is asked for twice.
func (a *app) readNewRepositoryPassword(ctx context.Context) (string, error) {
	prompts := a.opts.PasswordFile == "" && a.opts.PasswordCommand == "" && env("RESTIC_PASSWORD") == "" &&
		!a.opts.InsecureNoPassword && a.stdinIsTerminal()
	pw, err := a.readPassword(ctx, "enter password for new repository: ")
	if err != nil || !prompts {
		return pw, err
	}
	again, err := a.readPassword(ctx, "enter password again: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", fatalf("passwords do not match")
	}
	return pw, nil
}

// secondaryRepoOptions name a second repository: --from-repo and friends
// (RESTIC_FROM_* in the environment), or the deprecated --repo2 group
// (RESTIC_REPOSITORY2, RESTIC_PASSWORD2, …), as restic has them for init
// and copy.
type secondaryRepoOptions struct {
	Repo, RepositoryFile, PasswordFile, PasswordCommand, KeyHint string
	InsecureNoPassword                                           bool

	LegacyRepo, LegacyRepositoryFile, LegacyPasswordFile, LegacyPasswordCommand, LegacyKeyHint string
}

func (o *secondaryRepoOptions) addFlags(f *pflag.FlagSet, prefix, usage string) {
	f.StringVar(&o.LegacyRepo, "repo2", "", prefix+" `repository` "+usage+" (default: $RESTIC_REPOSITORY2)")
	f.StringVar(&o.LegacyRepositoryFile, "repository-file2", "", "`file` from which to read the "+prefix+" repository location "+usage+" (default: $RESTIC_REPOSITORY_FILE2)")
	f.StringVar(&o.LegacyPasswordFile, "password-file2", "", "`file` to read the "+prefix+" repository password from (default: $RESTIC_PASSWORD_FILE2)")
	f.StringVar(&o.LegacyKeyHint, "key-hint2", "", "key ID of key to try decrypting the "+prefix+" repository first (default: $RESTIC_KEY_HINT2)")
	f.StringVar(&o.LegacyPasswordCommand, "password-command2", "", "shell `command` to obtain the "+prefix+" repository password from (default: $RESTIC_PASSWORD_COMMAND2)")
	_ = f.MarkDeprecated("repo2", "use --repo or --from-repo instead")
	_ = f.MarkDeprecated("repository-file2", "use --repository-file or --from-repository-file instead")
	_ = f.MarkHidden("password-file2")
	_ = f.MarkHidden("key-hint2")
	_ = f.MarkHidden("password-command2")

	f.StringVar(&o.Repo, "from-repo", "", "source `repository` "+usage+" (default: $RESTIC_FROM_REPOSITORY)")
	f.StringVar(&o.RepositoryFile, "from-repository-file", "", "`file` from which to read the source repository location "+usage+" (default: $RESTIC_FROM_REPOSITORY_FILE)")
	f.StringVar(&o.PasswordFile, "from-password-file", "", "`file` to read the source repository password from (default: $RESTIC_FROM_PASSWORD_FILE)")
	f.StringVar(&o.KeyHint, "from-key-hint", "", "key ID of key to try decrypting the source repository first (default: $RESTIC_FROM_KEY_HINT)")
	f.StringVar(&o.PasswordCommand, "from-password-command", "", "shell `command` to obtain the source repository password from (default: $RESTIC_FROM_PASSWORD_COMMAND)")
	f.BoolVar(&o.InsecureNoPassword, "from-insecure-no-password", false, "use an empty password for the source repository (insecure)")

	// As in restic, the environment gives the values a flag then overrides.
	o.LegacyRepo = os.Getenv("RESTIC_REPOSITORY2")
	o.LegacyRepositoryFile = os.Getenv("RESTIC_REPOSITORY_FILE2")
	o.LegacyPasswordFile = os.Getenv("RESTIC_PASSWORD_FILE2")
	o.LegacyKeyHint = os.Getenv("RESTIC_KEY_HINT2")
	o.LegacyPasswordCommand = os.Getenv("RESTIC_PASSWORD_COMMAND2")
	o.Repo = os.Getenv("RESTIC_FROM_REPOSITORY")
	o.RepositoryFile = os.Getenv("RESTIC_FROM_REPOSITORY_FILE")
	o.PasswordFile = os.Getenv("RESTIC_FROM_PASSWORD_FILE")
	o.KeyHint = os.Getenv("RESTIC_FROM_KEY_HINT")
	o.PasswordCommand = os.Getenv("RESTIC_FROM_PASSWORD_COMMAND")
}

// anyRepo reports whether a secondary repository location was given.
func (o *secondaryRepoOptions) anyRepo() bool {
	return o.Repo != "" || o.RepositoryFile != "" || o.LegacyRepo != "" || o.LegacyRepositoryFile != ""
}

// openSecondaryEngine opens the repository named by o as the engine's
// Repository, with the lock timings and --no-lock from the flags; prefix
// names it in the password prompt of the legacy options ("source" is used
// for the --from-* group). The caller closes it.
func (a *app) openSecondaryEngine(ctx context.Context, o *secondaryRepoOptions, prefix string) (*engine.Repository, error) {
	be, pw, keyHint, err := a.openSecondaryBackend(ctx, o, prefix)
	if err != nil {
		return nil, err
	}
	lockOpts, err := a.lockOptions()
	if err != nil {
		be.Close()
		return nil, err
	}
	e, err := engine.OpenBackend(ctx, be, engine.Options{Password: pw, KeyHint: keyHint, MaxKeys: maxKeys, Lock: lockOpts, NoLock: a.opts.NoLock,
		IndexProgress: a.newIndexCounter(false).hook()})
	if err != nil {
		be.Close()
		return nil, err
	}
	a.reportOpened(e.Repo())
	return e, nil
}

// openSecondaryBackend resolves the secondary repository's location and
// password and opens its backend; it returns the key hint too.
func (a *app) openSecondaryBackend(ctx context.Context, o *secondaryRepoOptions, prefix string) (backend.Backend, string, string, error) {
	if !o.anyRepo() {
		return nil, "", "", fatalf("Please specify a source repository location (--from-repo or --from-repository-file)")
	}
	hasFrom := o.Repo != "" || o.RepositoryFile != "" || o.PasswordFile != "" || o.KeyHint != "" || o.PasswordCommand != "" || o.InsecureNoPassword
	hasLegacy := o.LegacyRepo != "" || o.LegacyRepositoryFile != "" || o.LegacyPasswordFile != "" || o.LegacyKeyHint != "" || o.LegacyPasswordCommand != ""
	if hasFrom && hasLegacy {
		return nil, "", "", fatalf("Option groups repo2 and from-repo are mutually exclusive, please specify only one")
	}

	sec := &app{stdin: a.stdin, stdout: a.stdout, stderr: a.stderr, opts: a.opts}
	so := &sec.opts
	pwEnv := "RESTIC_PASSWORD2"
	if hasFrom {
		if o.Repo != "" && o.RepositoryFile != "" {
			return nil, "", "", fatalf("Options --from-repo and --from-repository-file are mutually exclusive, please specify only one")
		}
		so.Repo, so.RepositoryFile, so.PasswordFile, so.PasswordCommand, so.KeyHint = o.Repo, o.RepositoryFile, o.PasswordFile, o.PasswordCommand, o.KeyHint
		so.InsecureNoPassword = o.InsecureNoPassword
		pwEnv, prefix = "RESTIC_FROM_PASSWORD", "source"
	} else {
		if o.LegacyRepo != "" && o.LegacyRepositoryFile != "" {
			return nil, "", "", fatalf("Options --repo2 and --repository-file2 are mutually exclusive, please specify only one")
		}
		so.Repo, so.RepositoryFile, so.PasswordFile, so.PasswordCommand, so.KeyHint = o.LegacyRepo, o.LegacyRepositoryFile, o.LegacyPasswordFile, o.LegacyPasswordCommand, o.LegacyKeyHint
		so.InsecureNoPassword = false
	}

	pw, err := sec.secondaryPassword(ctx, pwEnv, prefix)
	if err != nil {
		return nil, "", "", err
	}
	loc, err := so.repositoryLocation()
	if err != nil {
		return nil, "", "", err
	}
	be, err := sec.openBackend(ctx, loc)
	if err != nil {
		return nil, "", "", err
	}
	return be, pw, so.KeyHint, nil
}

// secondaryPassword resolves a secondary repository's password from its
// command or file, else from the environment variable pwEnv, else from
// standard input (askPassword). name is the repository's name in the
// prompt ("source", "secondary").
func (a *app) secondaryPassword(ctx context.Context, pwEnv, name string) (string, error) {
	pw, err := a.passwordFrom(ctx, pwEnv)
	if err != nil {
		return "", err
	}
	return a.passwordOrAsk(pw, "enter password for "+name+" repository: ")
}

// askPassword reads a password from standard input, as restic does: typed
// at the prompt without echo when it is a terminal, otherwise the first
// line of whatever it carries (`echo secret | arca ...`), announced on
// standard output when that is a terminal. An empty one is refused.
func (a *app) askPassword(prompt string) (string, error) {
	var pw string
	if a.stdinIsTerminal() {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(int(a.stdin.(*os.File).Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("unable to read password: %w", err)
		}
		pw = string(b)
	} else if a.stdin != nil {
		if a.stdoutIsTerminal() {
			a.printf("reading repository password from stdin\n")
		}
		// a new scanner each time, as restic: a second password read
		// from the same pipe finds what the first one buffered gone
		sc := bufio.NewScanner(a.stdin)
		sc.Scan()
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("unable to read password: readPassword: %w", err)
		}
		pw = sc.Text()
	}
	if pw == "" {
		return "", fatalf("an empty password is not allowed by default. Pass the flag `--insecure-no-password` to restic to disable this check")
	}
	return pw, nil
}
