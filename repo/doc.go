// Package repo is arca's engine: it opens and creates restic repositories
// and carries out the operations on them (backup, restore, listing, check,
// forget, prune, …), reporting progress through callbacks and never
// printing. It builds on backend (where files live), crypto (sealing them)
// and chunker (splitting file content), and keeps the repository format
// itself in the subpackages model (JSON types), index and pack.
//
// Programs that embed arca start with the subpackage engine: it opens a
// repository from a location string and wraps the operations with locking,
// typed errors and progress events.
package repo
