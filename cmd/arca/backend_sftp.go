package main

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/backend/sftp"
	"github.com/arca-backup/arca/repo"
)

// openSFTP starts the SFTP backend for an "sftp:" location with the
// -o sftp.* options. ssh's stderr lines are shown as restic shows them
// ("subprocess ssh: …"). Unless create is set, the repository's config
// file must exist.
func (a *app) openSFTP(ctx context.Context, l location.Location, lc *location.SFTPConfig, xopts map[string]string, create bool) (backend.Backend, error) {
	cfg := sftp.ConfigFromLocation(lc)
	if err := cfg.ApplyOptions(xopts); err != nil {
		return nil, fatalf("%v", err)
	}
	program := "ssh"
	if cfg.Command != "" {
		if words, err := sftp.SplitCommandLine(cfg.Command); err == nil && len(words) > 0 {
			program = words[0]
		}
	}
	cfg.StderrLine = func(line string) {
		fmt.Fprintf(a.stderr, "subprocess %s: %s\n", program, line)
	}
	be, err := sftp.Open(ctx, cfg)
	if err != nil {
		return nil, fatalf("unable to open repository at %v: %v", l.String(), err)
	}
	if create {
		return be, nil
	}
	if _, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil {
		be.Close()
		if backend.IsNotExist(err) {
			return nil, fmt.Errorf("Fatal: %w: unable to open config file: %v\nIs there a repository at the following location?\n%v", repo.ErrNoRepository, configStatError(err), l.String())
		}
		return nil, fatalf("unable to open repository at %v: %v", l.String(), err)
	}
	return be, nil
}
