package main

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/connect"
	"github.com/arca-backup/arca/crypto"
)

// copyRepo copies every file of the repository at src (config, keys,
// snapshots, index and packs; no locks) to a new repository at dst, both
// opened with opts. It gives remote runs what hard links give local ones:
// each run's repository holds the template's files, with its key, so the
// programs compared meet the same scrypt parameters. (A key written by
// `restic init` has a cost parameter restic calibrates on the spot, 1 to 4
// on the same machine, which alone can move a re-run's time by 0.1 s.)
func copyRepo(ctx context.Context, src, dst string, opts connect.Options) error {
	from, err := connect.Open(ctx, src, opts)
	if err != nil {
		return fmt.Errorf("copy repository: %w", err)
	}
	defer from.Close()
	to, err := connect.Create(ctx, dst, opts)
	if err != nil {
		return fmt.Errorf("copy repository: %w", err)
	}
	defer to.Close()
	if err := to.Create(ctx); err != nil {
		return fmt.Errorf("copy repository to %s: %w", dst, err)
	}
	copyFile := func(h backend.Handle) error {
		buf, err := backend.LoadAll(ctx, from, h)
		if err != nil {
			return err
		}
		return to.Save(ctx, h, backend.NewByteReader(buf))
	}
	// the config last: until it is there, dst is no repository
	for _, t := range []backend.FileType{backend.PackFile, backend.IndexFile, backend.SnapshotFile, backend.KeyFile} {
		err := from.List(ctx, t, func(fi backend.FileInfo) error {
			return copyFile(backend.Handle{Type: t, Name: fi.Name})
		})
		if err != nil {
			return fmt.Errorf("copy repository %s: %w", src, err)
		}
	}
	if err := copyFile(backend.Handle{Type: backend.ConfigFile}); err != nil {
		return fmt.Errorf("copy repository %s: %w", src, err)
	}
	return nil
}

// keyParams describes the scrypt parameters of the key of the repository
// at loc, which must have exactly one key file.
func keyParams(ctx context.Context, loc string, opts connect.Options) (string, error) {
	be, err := connect.Open(ctx, loc, opts)
	if err != nil {
		return "", fmt.Errorf("read key: %w", err)
	}
	defer be.Close()
	var names []string
	err = be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil || len(names) != 1 {
		return "", fmt.Errorf("read key of %s: %d key files (%v)", loc, len(names), err)
	}
	buf, err := backend.LoadAll(ctx, be, backend.Handle{Type: backend.KeyFile, Name: names[0]})
	if err != nil {
		return "", fmt.Errorf("read key of %s: %w", loc, err)
	}
	kf, err := crypto.ParseKeyFile(buf)
	if err != nil {
		return "", fmt.Errorf("read key of %s: %w", loc, err)
	}
	p := kf.Params()
	return fmt.Sprintf("scrypt N=%d r=%d p=%d", p.N, p.R, p.P), nil
}
