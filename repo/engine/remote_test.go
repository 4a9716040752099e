package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend/connect"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
)

// remoteTarget is a way to reach a remote repository from a test.
type remoteTarget struct {
	name string
	loc  func(name string) string
	opts map[string]string
}

// remoteTargets lists the remote backends available to the tests: SFTP
// through a local sftp-server subprocess, and the S3 and REST test servers
// when scripts/testservers has started them.
func remoteTargets(t *testing.T) []remoteTarget {
	var ts []remoteTarget
	bin := os.Getenv("SFTP_SERVER_BIN")
	if bin == "" {
		bin = "/usr/lib/openssh/sftp-server"
	}
	if _, err := os.Stat(bin); err == nil {
		root := t.TempDir()
		ts = append(ts, remoteTarget{"sftp", func(n string) string { return "sftp:subprocess:" + filepath.Join(root, n) },
			map[string]string{"sftp.command": bin}})
	}
	if ep, bucket := os.Getenv("S3_ENDPOINT"), os.Getenv("S3_BUCKET"); ep != "" && bucket != "" && os.Getenv("S3_CA_CERT") == "" {
		ts = append(ts, remoteTarget{"s3", func(n string) string { return "s3:" + ep + "/" + bucket + "/engine-test/" + n }, nil})
	}
	if u := os.Getenv("REST_URL"); u != "" && os.Getenv("REST_AUTH_MODE") == "none" {
		ts = append(ts, remoteTarget{"rest", func(n string) string { return "rest:" + strings.TrimSuffix(u, "/") + "/" + n }, nil})
	}
	return ts
}

func randomName(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(t.Name()) + "-" + hex.EncodeToString(b[:])
}

func TestRemoteLocations(t *testing.T) {
	ts := remoteTargets(t)
	if len(ts) == 0 {
		t.Skip("no remote backend available")
	}
	for _, rt := range ts {
		t.Run(rt.name, func(t *testing.T) {
			ctx := context.Background()
			loc := rt.loc(randomName(t))
			opts := engine.Options{Password: password, CacheDir: t.TempDir(), Backend: connect.Options{Extended: rt.opts}}
			if _, err := engine.Open(ctx, loc, opts); !errors.Is(err, engine.ErrNoRepository) {
				t.Fatalf("open before init: %v", err)
			}
			r, err := engine.Init(ctx, loc, engine.InitOptions{Options: opts, Create: repo.CreateOptions{KDFParams: &cheapKDF}})
			if err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(t.TempDir(), "src")
			files := randomFiles(8, 2, 100<<10)
			writeTree(t, src, files)
			res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
			r.Close()
			if err != nil {
				t.Fatal(err)
			}

			r, err = engine.Open(ctx, loc, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Cache() == nil || r.CacheError() != nil {
				t.Errorf("remote repository without a cache: %v", r.CacheError())
			}
			dst := t.TempDir()
			if _, err := r.Restore(ctx, res.SnapshotID.String(), dst, engine.RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			checkRestored(t, filepath.Join(dst, src), files)
			if _, err := engine.Open(ctx, loc, engine.Options{Password: "wrong", NoCache: true, Backend: opts.Backend}); !errors.Is(err, engine.ErrWrongPassword) {
				t.Errorf("open with a wrong password: %v", err)
			}
		})
	}
}

// TestRemoteLockDelay: the lock check waits restic's delay on every remote
// backend except S3 on MinIO, whose listings are documented to be
// consistent (backend/s3).
func TestRemoteLockDelay(t *testing.T) {
	for _, rt := range remoteTargets(t) {
		t.Run(rt.name, func(t *testing.T) {
			ctx := context.Background()
			loc := rt.loc(randomName(t))
			opts := engine.Options{Password: password, CacheDir: t.TempDir(), Backend: connect.Options{Extended: rt.opts}}
			r, err := engine.Init(ctx, loc, engine.InitOptions{Options: opts, Create: repo.CreateOptions{KDFParams: &cheapKDF}})
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			r, err = engine.Open(ctx, loc, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			l, err := r.Locker()
			if err != nil {
				t.Fatal(err)
			}
			want := rt.name == "s3" && os.Getenv("S3_SERVER") == "minio"
			if got := l.Options().ConsistentList; got != want {
				t.Errorf("%s (S3_SERVER=%q): lock check without delay %v, want %v", loc, os.Getenv("S3_SERVER"), got, want)
			}
		})
	}
}
