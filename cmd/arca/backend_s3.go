package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/location"
	"github.com/arca-backup/arca/backend/s3"
	"github.com/arca-backup/arca/repo"
)

// openS3Backend returns the S3 backend for loc with the -o s3.* options.
// Without create, the location must hold a repository.
func (a *app) openS3Backend(ctx context.Context, l location.Location, loc *location.S3Config, opts map[string]string, create bool) (backend.Backend, error) {
	cfg, err := s3.NewConfig(loc, opts)
	if errors.Is(err, s3.ErrUnknownOption) {
		return nil, fatalf("%v", err)
	}
	if err != nil {
		return nil, fatalf("unable to open repository at %s: %v", l.String(), err)
	}
	// Without TLS options the SDK's own transport is used: it honours
	// AWS_CA_BUNDLE and the SDK's other settings.
	if len(a.opts.CACerts) > 0 || a.opts.TLSClientCert != "" || a.opts.InsecureTLS || a.opts.HTTPUserAgent != "" {
		if cfg.Transport, err = a.httpTransport(); err != nil {
			return nil, err
		}
	}
	if create {
		return s3.New(ctx, cfg)
	}
	be, err := s3.Open(ctx, cfg)
	switch {
	case errors.Is(err, backend.ErrNoRepository):
		return nil, fmt.Errorf("Fatal: %w: unable to open config file: Stat: %s\nIs there a repository at the following location?\n%v", repo.ErrNoRepository, s3.Describe(err), l.String())
	case err != nil:
		return nil, fatalf("unable to open config file: Stat: %s\n%v", s3.Describe(err), l.String())
	}
	return be, nil
}
