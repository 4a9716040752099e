package main

import (
	"context"
	"errors"
	"strings"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	registerKeySubcommand(newKeyAddCommand)
	registerKeySubcommand(newKeyPasswdCommand)
	registerKeySubcommand(newKeyRemoveCommand)
}

const keyExitStatus = `
EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
	`

// newKeyOptions are the flags of "key add" and "key passwd".
type newKeyOptions struct {
	NewPasswordFile    string
	InsecureNoPassword bool
	Username           string
	Hostname           string
}

func (o *newKeyOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.NewPasswordFile, "new-password-file", "", "`file` from which to read the new password")
	f.BoolVar(&o.InsecureNoPassword, "new-insecure-no-password", false, "add an empty password for the repository (insecure)")
	f.StringVar(&o.Username, "user", "", "the username for new key")
	f.StringVar(&o.Hostname, "host", "", "the hostname for new key")
}

func newKeyAddCommand(a *app) *cobra.Command {
	var opts newKeyOptions
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a new key (password) to the repository; returns the new key ID",
		Long: `
The "key add" command creates a new key and validates the key. Returns the new key ID.
` + keyExitStatus,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return errors.New("the key add command expects no arguments, only options - please see `restic help key add` for usage and flags")
			}
			return a.runKeyAdd(c.Context(), &opts)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

func newKeyPasswdCommand(a *app) *cobra.Command {
	var opts newKeyOptions
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change key (password); creates a new key ID and removes the old key ID, returns new key ID",
		Long: `
The "key passwd" command creates a new key, validates the key and removes the old key ID.
Returns the new key ID.
` + keyExitStatus,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return errors.New("the key passwd command expects no arguments, only options - please see `restic help key passwd` for usage and flags")
			}
			return a.runKeyPasswd(c.Context(), &opts)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

func newKeyRemoveCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove [ID]",
		Short: "Remove key ID (password) from the repository",
		Long: `
The "key remove" command removes the selected key ID. It does not allow removing the
current key being used to access the repository.
` + keyExitStatus,
		DisableAutoGenTag: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("key remove expects one argument as the key id")
			}
			return a.runKeyRemove(c.Context(), args[0])
		},
	}
}

func (a *app) runKeyAdd(ctx context.Context, opts *newKeyOptions) error {
	e, err := a.openKeyEngine(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	pw, err := a.readNewKeyPassword(opts)
	if err != nil {
		return err
	}
	k, err := e.AddKey(ctx, pw, opts.Username, opts.Hostname)
	if err != nil {
		return newKeyError(err)
	}
	a.printf("saved new key with ID %s\n", k.ID)
	return nil
}

func (a *app) runKeyPasswd(ctx context.Context, opts *newKeyOptions) error {
	e, err := a.openKeyEngine(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	pw, err := a.readNewKeyPassword(opts)
	if err != nil {
		return err
	}
	k, err := e.ReplaceKey(ctx, pw, opts.Username, opts.Hostname)
	if err != nil {
		if k.ID.IsNull() {
			return newKeyError(err)
		}
		return engineError(err) // the new key works; removing the old one failed
	}
	a.printf("saved new key as <Key of %s@%s, created on %s>\n", k.Username, k.Hostname, k.Created)
	return nil
}

func newKeyError(err error) error {
	var kce *repo.KeyCheckError
	var lost *engine.LockLostError
	switch {
	case errors.As(err, &lost):
		return engineError(err)
	case errors.As(err, &kce):
		return fatalf("%v", kce)
	case errors.Is(err, context.Canceled), isLockConflict(err):
		return err
	}
	return fatalf("creating new key failed: %v", err)
}

func (a *app) runKeyRemove(ctx context.Context, prefix string) error {
	e, err := a.openKeyEngine(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	id, err := e.RemoveKey(ctx, prefix)
	if err != nil {
		if errors.Is(err, repo.ErrRemoveCurrentKey) {
			return fatalf("%v", repo.ErrRemoveCurrentKey)
		}
		return engineError(err)
	}
	if !a.opts.JSON {
		a.printf("removed key %v\n", id)
	}
	return nil
}

func (a *app) readNewKeyPassword(opts *newKeyOptions) (string, error) {
	if opts.InsecureNoPassword {
		if opts.NewPasswordFile != "" {
			return "", errors.New("only either --new-password-file or --new-insecure-no-password may be specified")
		}
		return "", nil
	}
	if opts.NewPasswordFile != "" {
		s, err := readTextFile(opts.NewPasswordFile)
		if err != nil {
			return "", err
		}
		pw := strings.TrimSpace(s)
		if pw == "" {
			return "", errors.New("an empty password is not allowed by default. Pass the flag `--new-insecure-no-password` to restic to disable this check")
		}
		return pw, nil
	}
	pw, err := a.askPassword("enter new password: ")
	if err != nil || !a.stdinIsTerminal() {
		// restic asks twice only at a terminal
		return pw, err
	}
	again, err := a.askPassword("enter password again: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", fatalf("passwords do not match")
	}
	return pw, nil
}
