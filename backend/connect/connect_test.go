package connect_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/connect"
)

func TestOpenLocalErrors(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	_, err := connect.Open(ctx, dir, connect.Options{})
	var nr *connect.NoRepositoryError
	if !errors.As(err, &nr) || !errors.Is(err, backend.ErrNoRepository) {
		t.Fatalf("open of a missing repository: %v", err)
	}
	want := "repository does not exist: unable to open config file: stat " + filepath.Join(dir, "config") +
		": no such file or directory\nIs there a repository at the following location?\n" + dir
	if err.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", err, want)
	}

	var ce *connect.Error
	_, err = connect.Open(ctx, dir, connect.Options{Extended: map[string]string{"local.bogus": "1"}})
	if !errors.As(err, &ce) || ce.Msg != "option local.bogus is not known" {
		t.Errorf("unknown option: %v", err)
	}
	_, err = connect.Open(ctx, dir, connect.Options{Extended: map[string]string{"local.connections": "0"}})
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "positive") {
		t.Errorf("zero connections: %v", err)
	}
	if _, err = connect.Open(ctx, "gs:bucket:/path", connect.Options{}); !errors.As(err, &ce) {
		t.Errorf("a backend arca lacks: %v", err)
	}

	// Create needs no repository; the backend works at once
	be, err := connect.Create(ctx, dir, connect.Options{LimitUpload: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err != nil {
		t.Fatal(err)
	}
	be2, err := connect.Open(ctx, dir, connect.Options{})
	if err != nil {
		t.Fatalf("open once a config exists: %v", err)
	}
	be2.Close()
}

func TestShownAndRemote(t *testing.T) {
	if got := connect.Shown("rest:https://user:secret@host:8000/repo"); strings.Contains(got, "secret") {
		t.Errorf("Shown keeps the password: %s", got)
	}
	for loc, remote := range map[string]bool{"/srv/repo": false, "local:/srv/repo": false, "sftp:host:/r": true, "s3:https://h/b": true, "rest:http://h/": true} {
		if connect.IsRemote(loc) != remote {
			t.Errorf("IsRemote(%q) = %v", loc, !remote)
		}
	}
}
