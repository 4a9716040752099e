package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/backend/connect"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
)

// TestRemoteRemembersKey: Open remembers in the cache the key file that
// opened a remote repository, and the next Open uses that key file when
// the repository still lists it, even where restic's search would pick
// another key with the same password; without it (or with a cache it
// cannot use) Open searches the key files as restic does.
func TestRemoteRemembersKey(t *testing.T) {
	ts := remoteTargets(t)
	if len(ts) == 0 {
		t.Skip("no remote backend available")
	}
	for _, rt := range ts {
		t.Run(rt.name, func(t *testing.T) {
			ctx := context.Background()
			loc := rt.loc(randomName(t))
			cacheDir := t.TempDir()
			opts := engine.Options{Password: password, CacheDir: cacheDir, Backend: connect.Options{Extended: rt.opts}}
			noCache := opts
			noCache.NoCache = true
			r, err := engine.Init(ctx, loc, engine.InitOptions{Options: noCache, Create: repo.CreateOptions{KDFParams: &cheapKDF}})
			if err != nil {
				t.Fatal(err)
			}
			r.Repo().SetKDFParams(cheapKDF)
			if _, err := r.Repo().AddKey(ctx, password, "", ""); err != nil {
				t.Fatal(err)
			}
			r.Close()
			if _, ok := cache.RecallKey(cacheDir, connect.Shown(loc)); ok {
				t.Fatal("a key is remembered before any Open with a cache")
			}

			// restic's search: the key a cacheless Open picks
			searched := openKeyID(t, loc, noCache)
			if got := openKeyID(t, loc, opts); got != searched {
				t.Fatalf("first Open with a cache opened key %s, the search picks %s", got.Str(), searched.Str())
			}
			if got := recalledKeyID(t, cacheDir, loc); got != searched {
				t.Fatalf("remembered key %s, want %s", got.Str(), searched.Str())
			}

			// remember the other key: the next Open uses it
			r, err = engine.Open(ctx, loc, noCache)
			if err != nil {
				t.Fatal(err)
			}
			var other model.ID
			keys, err := r.ReadKeys(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if k.ID != searched {
					other = k.ID
				}
			}
			buf, err := r.Repo().LoadRaw(ctx, backend.KeyFile, other)
			if err != nil {
				t.Fatal(err)
			}
			c, err := cache.Open(cacheDir, r.Config().ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.RememberKey(connect.Shown(loc), buf); err != nil {
				t.Fatal(err)
			}
			if kept := keptKeyFiles(t, c); len(kept) != 1 || kept[0] != other.String() {
				t.Errorf("kept key files %v, want only %s", kept, other.Str())
			}
			if got := openKeyID(t, loc, opts); got != other {
				t.Fatalf("Open with key %s remembered opened key %s", other.Str(), got.Str())
			}

			// a different password than the one known early: the search
			// with the right one
			mismatch := opts
			mismatch.Password = ""
			mismatch.PasswordFunc = func(context.Context) (string, error) { return password, nil }
			mismatch.KnownPassword = func() (string, bool) { return "wrong", true }
			if got := openKeyID(t, loc, mismatch); got != searched {
				t.Errorf("Open whose known password differs opened key %s, want the search's %s", got.Str(), searched.Str())
			}
			wrong := opts
			wrong.Password = "wrong"
			if _, err := engine.Open(ctx, loc, wrong); !errors.Is(err, engine.ErrWrongPassword) {
				t.Errorf("Open with a wrong password and a remembered key: %v", err)
			}

			// the remembered key is removed from the repository: the
			// search again, and the memo follows
			if err := r.Repo().RemoveKey(ctx, other); err != nil {
				t.Fatal(err)
			}
			r.Close()
			if got := openKeyID(t, loc, opts); got != searched {
				t.Errorf("Open after the remembered key was removed opened key %s, want %s", got.Str(), searched.Str())
			}
			if got := recalledKeyID(t, cacheDir, loc); got != searched {
				t.Errorf("remembered key %s after the search, want %s", got.Str(), searched.Str())
			}
			if kept := keptKeyFiles(t, c); len(kept) != 1 || kept[0] != searched.String() {
				t.Errorf("kept key files %v, want only %s", kept, searched.Str())
			}
		})
	}
}

// openKeyID opens the repository at loc and returns the ID of the key
// file that opened it.
func openKeyID(t *testing.T, loc string, opts engine.Options) model.ID {
	t.Helper()
	r, err := engine.Open(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if id := model.Hash(r.Repo().KeyFile()); id != r.Repo().KeyID() {
		t.Errorf("Repo().KeyFile() hashes to %s, the key's ID is %s", id.Str(), r.Repo().KeyID().Str())
	}
	return r.Repo().KeyID()
}

// recalledKeyID returns the ID of the key file the cache in cacheDir
// remembers for loc.
func recalledKeyID(t *testing.T, cacheDir, loc string) model.ID {
	t.Helper()
	buf, ok := cache.RecallKey(cacheDir, connect.Shown(loc))
	if !ok {
		t.Fatal("no key remembered")
	}
	return model.Hash(buf)
}

// keptKeyFiles lists the key files kept in c.
func keptKeyFiles(t *testing.T, c *cache.Cache) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(c.Dir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
