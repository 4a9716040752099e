package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

func openWith(t *testing.T, be backend.Backend, password string) (*repo.Repository, error) {
	t.Helper()
	r, err := repo.Open(context.Background(), be, password, repo.OpenOptions{})
	if err == nil {
		r.SetKDFParams(fastKDF)
		t.Cleanup(r.Close)
	}
	return r, err
}

func TestAddKey(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := createRepo(t, be, "first", repo.CreateOptions{})
	before := time.Now()
	k, err := r.AddKey(ctx, "second", "bob", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if k.Username != "bob" || k.Hostname != "laptop" || k.Created.Before(before) || k.Created.After(time.Now()) {
		t.Errorf("new key %+v", k)
	}
	if r.KeyID() == k.ID {
		t.Error("AddKey switched the repository to the new key")
	}
	if n := len(keyNames(t, be)); n != 2 {
		t.Fatalf("%d key files, want 2", n)
	}
	raw := rawFile(t, be, backend.Handle{Type: backend.KeyFile, Name: k.ID.String()})
	if model.Hash(raw) != k.ID {
		t.Error("new key file is not named by its hash")
	}
	kf, err := crypto.ParseKeyFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kf.Params() != fastKDF || kf.Username != "bob" || kf.Hostname != "laptop" || !kf.Created.Equal(k.Created) {
		t.Errorf("key file %+v", kf)
	}

	for _, pw := range []string{"first", "second"} {
		r2, err := openWith(t, be, pw)
		if err != nil {
			t.Fatalf("open with %q: %v", pw, err)
		}
		if r2.Config() != r.Config() {
			t.Errorf("open with %q: other config", pw)
		}
	}
	if r2, err := openWith(t, be, "second"); err == nil && r2.KeyID() != k.ID {
		t.Errorf("password of the new key opened key %s", r2.KeyID())
	}

	// an empty password is a password like any other (--new-insecure-no-password)
	if _, err := r.AddKey(ctx, "", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := openWith(t, be, ""); err != nil {
		t.Errorf("open with the empty password: %v", err)
	}
}

// corruptingBackend damages key files as they are saved.
type corruptingBackend struct{ backend.Backend }

func (b *corruptingBackend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type != backend.KeyFile {
		return b.Backend.Save(ctx, h, rd)
	}
	return b.Backend.Save(ctx, h, backend.NewByteReader([]byte(`{"kdf":"scrypt"}`)))
}

func TestAddKeyRemovesBrokenKey(t *testing.T) {
	ctx := context.Background()
	inner := mem.New()
	createRepo(t, inner, "pw", repo.CreateOptions{})
	r, err := repo.Open(ctx, &corruptingBackend{inner}, "pw", repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetKDFParams(fastKDF)
	_, err = r.AddKey(ctx, "new", "", "")
	var kce *repo.KeyCheckError
	if !errors.As(err, &kce) || !strings.HasPrefix(err.Error(), "failed to access repository with new key: ") {
		t.Fatalf("AddKey with a damaged key file: %v", err)
	}
	if n := len(keyNames(t, inner)); n != 1 {
		t.Errorf("%d key files after the failed add, want 1", n)
	}
}

func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	createRepo(t, be, "old", repo.CreateOptions{})
	r, err := openWith(t, be, "old")
	if err != nil {
		t.Fatal(err)
	}
	oldID := r.KeyID()
	k, err := r.ChangePassword(ctx, "new", "carol", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyID() != k.ID || k.ID == oldID {
		t.Errorf("after ChangePassword the repository uses key %s; new %s, old %s", r.KeyID(), k.ID, oldID)
	}
	names := keyNames(t, be)
	if len(names) != 1 || names[0] != k.ID.String() {
		t.Errorf("key files %v, want only %s", names, k.ID)
	}
	if _, err := openWith(t, be, "old"); !errors.Is(err, repo.ErrWrongPassword) {
		t.Errorf("open with the old password: %v", err)
	}
	r2, err := openWith(t, be, "new")
	if err != nil {
		t.Fatalf("open with the new password: %v", err)
	}
	if r2.KeyID() != k.ID {
		t.Errorf("new password opened %s", r2.KeyID())
	}
}

func TestRemoveAndFindKey(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := createRepo(t, be, "pw", repo.CreateOptions{})
	k, err := r.AddKey(ctx, "other", "", "")
	if err != nil {
		t.Fatal(err)
	}

	// the current key cannot be removed, by any name
	cur, err := r.FindKey(ctx, r.KeyID().String()[:6])
	if err != nil || cur != r.KeyID() {
		t.Fatalf("FindKey(current prefix) = %s, %v", cur, err)
	}
	if err := r.RemoveKey(ctx, cur); !errors.Is(err, repo.ErrRemoveCurrentKey) ||
		err.Error() != "refusing to remove key currently used to access repository" {
		t.Errorf("RemoveKey(current): %v", err)
	}

	// prefix errors carry restic's texts
	_, err = r.FindKey(ctx, "zz")
	var pe *repo.PrefixError
	if !errors.As(err, &pe) || !errors.Is(err, backend.ErrNotExist) || err.Error() != `no matching ID found for prefix "zz"` {
		t.Errorf("FindKey(zz): %v", err)
	}
	missing := model.Hash([]byte("no such key")).String()
	if _, err := r.FindKey(ctx, missing); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("FindKey(full ID of no key): %v", err)
	}
	if _, err := r.FindKey(ctx, ""); !errors.Is(err, repo.ErrAmbiguousID) || err.Error() != `multiple IDs with prefix "" found` {
		t.Errorf("FindKey(\"\") with two keys: %v", err)
	}

	id, err := r.FindKey(ctx, k.ID.String()[:8])
	if err != nil || id != k.ID {
		t.Fatalf("FindKey(new prefix) = %s, %v", id, err)
	}
	if err := r.RemoveKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if names := keyNames(t, be); len(names) != 1 || names[0] != r.KeyID().String() {
		t.Errorf("key files after remove: %v", names)
	}
	if _, err := openWith(t, be, "other"); !errors.Is(err, repo.ErrWrongPassword) {
		t.Errorf("removed key still opens: %v", err)
	}
	if err := r.RemoveKey(ctx, id); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("removing it again: %v", err)
	}
}
