// Package forget decides which snapshots a retention policy keeps, with the
// rules of restic's forget command.
//
// A Policy counts buckets (the last n snapshots, or the newest snapshot of
// each of the last n hours, days, ISO weeks, months, years), keeps
// everything within a duration of the newest snapshot (optionally one per
// bucket), and keeps snapshots carrying given tags. Apply evaluates a
// policy over one group of snapshots, newest first, and says for each kept
// snapshot which rules matched. Buckets are computed in the time zone the
// snapshot's time was recorded in, as restic does. When a bucket rule still
// has counts left at the oldest snapshot, that snapshot is kept too
// ("oldest …"), so the history reaches back as far as possible.
//
// The package only decides; removing files is the caller's business
// (repo.Repository.RemoveSnapshotFiles).
package forget
