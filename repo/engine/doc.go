// Package engine is arca's embeddable API: a program opens a restic
// repository and backs up, lists, restores, checks, forgets and prunes
// from Go, with typed results, typed errors and progress events instead of
// parsing a command's output. Every arca command is built on it.
//
// # Opening
//
// A repository is named by a location string, exactly as restic's -r
// takes it: a directory ("/srv/backup"), "sftp:user@host:/path",
// "s3:https://host/bucket/path" or "rest:https://host/". Open opens an
// existing repository, Init creates one:
//
//	r, err := engine.Open(ctx, "/srv/backup", engine.Options{Password: pw})
//	if err != nil { ... }
//	defer r.Close()
//
// Options carry the key (Password or PasswordFunc, KeyHint), the backend
// settings (connect.Options: -o options, TLS, rate limits, retries), the
// local cache (used for remote repositories) and the lock timings. The
// cache also remembers the key file that opened a remote repository:
// when the password is known up front (Password, or KnownPassword beside
// PasswordFunc), the next Open derives the key from it while it connects.
//
// # Operations
//
//	res, err := r.Backup(ctx, []string{"/home/me"}, engine.BackupOptions{Tags: []string{"daily"}})
//	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
//	err = r.List(ctx, "latest", func(e engine.Entry) error { ...; return nil })
//	out, err := r.Restore(ctx, "latest", "/tmp/restore", engine.RestoreOptions{})
//	fr, err := r.Forget(ctx, engine.ForgetOptions{Policy: forget.Policy{Daily: 7, Weekly: 4}})
//	stats, err := r.Prune(ctx, prune.DefaultOptions(), nil)
//	cr, err := r.Check(ctx, engine.CheckOptions{ReadData: true})
//	removed, err := r.Unlock(ctx, false)
//
// and also Diff (two snapshots), Stats (restic's four counting modes), Dump
// (a file or a tar/zip of a directory to an io.Writer), Find (items by
// path pattern, or where blobs, trees or packs are used), ListFiles (the
// IDs of snapshot, index, pack, key or lock files), ListBlobs, Copy (to
// another open Repository), and the maintenance operations of restic's
// commands:
//
//   - TagSnapshots (and Tag), Rewrite (exclude files, new host or time)
//     and Forget (a policy, or chosen snapshots; optionally with a prune
//     under the same lock) change snapshots; SnapshotSelection says which;
//   - RepairIndex, RepairPacks, RepairSnapshots and Recover repair a
//     damaged repository or bring back lost snapshots;
//   - Migrations and Migrate upgrade the repository format;
//   - Keys (ReadKeys), AddKey, RemoveKey, ChangePassword (ReplaceKey)
//     manage passwords; Locks, StaleLocks and Unlock inspect and remove
//     locks.
//
// None of them prints: each reports through typed callbacks in its
// options (Check's Phase and Problem, ReplaceEvents, MigrateEvents, the
// repairindex, repairpacks and prune packages' Events, …) and returns
// typed results.
//
// Read gives a function a Reader: several reads under one shared lock,
// for work that belongs together (load the snapshots, pick one the way a
// program likes, then walk, dump, restore or compare it). Besides the
// Reader forms of the operations above it returns the stored objects
// themselves: IndexFile, KeyFile, LockFile, Pack, Blob (plaintext, whose
// SHA-256 is its ID) and Tree.
//
// Backup picks the parent snapshot (the latest one of the same host and
// paths) so unchanged files are not read again, stores new data, and
// saves the snapshot; BackupResult has its ID and a summary. Progress
// arrives as typed events (BackupOptions.Events: BackupParent,
// BackupScanFinished, BackupItemDone, …); a file that cannot be read is
// reported as BackupItemError and skipped (BackupResult.Partial), unless
// OnError returns an error. Restore reports each item through
// restorer.Events and the running totals (items and bytes restored of
// the total) through RestoreOptions.Status.
//
// Every operation takes a context.Context: cancelling it stops the
// operation. A cancelled backup leaves the repository consistent and
// indexes what it already uploaded, so the next backup does not upload
// it again. A failed backup's error is a *BackupError naming the stage.
//
// Check reports damage as a count and through CheckOptions.Problem, not as
// an error. Forget applies a retention policy (package forget) and removes
// snapshot files; Prune then removes the data no snapshot uses.
//
// # Locks and concurrency
//
// Operations take the repository lock they need themselves (a shared lock
// for backup, restore and listing, an exclusive one for check, forget,
// prune, the repairs and migrations; none for a dry-run rewrite or repair
// snapshots, nor with CheckOptions.NoLock), refresh it while they run and release it when they return, so
// one Repository may be used by several goroutines at once: a restore may
// run while a backup does. Within one Repository an exclusive operation
// waits for the running shared ones (and they for it) instead of failing
// on each other's lock. When the repository is locked by someone else the
// error is a *LockedError (errors.As) naming the holder;
// Options.Lock.RetryLock waits for it instead. For work this package does
// not wrap yet, Repo returns the underlying repo.Repository and Lock takes
// a lock by hand.
//
// Taking a lock waits a check delay (200 ms, as restic) after writing the
// lock file. Backup reads in that time (snapshots, index, files) but
// writes nothing and reports nothing until the lock is granted, so a
// refused backup leaves no trace (see Backup).
//
// # Errors
//
// errors.Is(err, ErrNoRepository) when the location holds no repository,
// ErrWrongPassword when no key opens, ErrDamaged when data read back fails
// its check, ErrNoSnapshot when a snapshot name matches nothing,
// ErrLockLost when an operation lost its lock; IsLocked or
// errors.As(err, new(*LockedError)) when the repository is locked.
package engine
