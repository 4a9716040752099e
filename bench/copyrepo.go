package main

import (
	"context"
	"crypto/sha256"
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

// onlyKey opens the repository at loc and returns its backend and the
// name and content of its only key file.
func onlyKey(ctx context.Context, loc string, opts connect.Options) (backend.Backend, string, []byte, error) {
	be, err := connect.Open(ctx, loc, opts)
	if err != nil {
		return nil, "", nil, err
	}
	var names []string
	err = be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err == nil && len(names) != 1 {
		err = fmt.Errorf("%d key files, want one", len(names))
	}
	var buf []byte
	if err == nil {
		buf, err = backend.LoadAll(ctx, be, backend.Handle{Type: backend.KeyFile, Name: names[0]})
	}
	if err != nil {
		be.Close()
		return nil, "", nil, err
	}
	return be, names[0], buf, nil
}

// keyParams describes the scrypt parameters of the key of the repository
// at loc, which must have exactly one key file.
func keyParams(ctx context.Context, loc string, opts connect.Options) (string, error) {
	be, _, buf, err := onlyKey(ctx, loc, opts)
	if err != nil {
		return "", fmt.Errorf("read key of %s: %w", loc, err)
	}
	defer be.Close()
	kf, err := crypto.ParseKeyFile(buf)
	if err != nil {
		return "", fmt.Errorf("read key of %s: %w", loc, err)
	}
	p := kf.Params()
	return fmt.Sprintf("scrypt N=%d r=%d p=%d", p.N, p.R, p.P), nil
}

// rekey replaces the only key file of the repository at loc by one that
// holds the same master key under password with the scrypt parameters p
// (and the same user, host and creation time), as restic would have
// written it had it calibrated p.
func rekey(ctx context.Context, loc string, opts connect.Options, password string, p crypto.Params) error {
	be, name, buf, err := onlyKey(ctx, loc, opts)
	if err != nil {
		return fmt.Errorf("rekey %s: %w", loc, err)
	}
	defer be.Close()
	kf, err := crypto.ParseKeyFile(buf)
	if err != nil {
		return fmt.Errorf("rekey %s: %w", loc, err)
	}
	master, err := kf.Open(password)
	if err != nil {
		return fmt.Errorf("rekey %s: %w", loc, err)
	}
	nk, err := crypto.NewKeyFile(master, password, p, kf.Username, kf.Hostname, kf.Created)
	if err != nil {
		return fmt.Errorf("rekey %s: %w", loc, err)
	}
	out, err := nk.Marshal()
	if err != nil {
		return fmt.Errorf("rekey %s: %w", loc, err)
	}
	h := backend.Handle{Type: backend.KeyFile, Name: fmt.Sprintf("%x", sha256.Sum256(out))}
	if err := be.Save(ctx, h, backend.NewByteReader(out)); err != nil {
		return fmt.Errorf("rekey %s: %w", loc, err)
	}
	if err := be.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: name}); err != nil {
		return fmt.Errorf("rekey %s: %w", loc, err)
	}
	return nil
}
