package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/backend/rest"
	"github.com/arca-backup/arca/repo"
)

// restBackend returns the backend for a "rest:" location: credentials from
// the URL or else RESTIC_REST_USERNAME/RESTIC_REST_PASSWORD, the
// -o rest.connections option, and the shared HTTP transport. With create it
// makes the repository on the server first, as restic does before any
// retries are set up, so a refused request is reported once.
func (a *app) restBackend(ctx context.Context, cfg *location.RESTConfig, xopts map[string]string, create bool, shown string) (backend.Backend, error) {
	c := rest.FromLocation(cfg)
	c.SetCredentials(env("RESTIC_REST_USERNAME"), env("RESTIC_REST_PASSWORD"))
	for key, value := range xopts {
		name, ok := strings.CutPrefix(key, "rest.")
		if !ok {
			continue
		}
		switch name {
		case "connections":
			n, err := strconv.ParseUint(value, 0, 32)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				c.Connections = uint(n)
			}
		default:
			return nil, fatalf("option %v is not known", key)
		}
	}
	rt, err := a.httpTransport()
	if err != nil {
		return nil, err
	}
	c.Transport = rt
	be, err := rest.New(c)
	if err != nil {
		return nil, fatalf("%v", err)
	}
	if create {
		if err := be.Create(ctx); err != nil {
			return nil, fatalf("create repository at %s failed: %v", shown, err)
		}
	}
	return be, nil
}

// checkRepositoryConfig makes sure a remote repository has a config file,
// with restic's messages: a missing one means there is no repository (exit
// code 10), any other failure (such as refused credentials) is fatal.
func checkRepositoryConfig(ctx context.Context, be backend.Backend, shown string) error {
	fi, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	switch {
	case backend.IsNotExist(err):
		return fmt.Errorf("Fatal: %w: unable to open config file: %v\nIs there a repository at the following location?\n%v", repo.ErrNoRepository, err, shown)
	case err != nil:
		return fatalf("unable to open config file: %v\n%v", err, shown)
	case fi.Size == 0:
		return fatalf("config file has zero size, invalid repository?")
	}
	return nil
}
