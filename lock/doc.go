// Package lock implements repository locks that are byte-compatible with
// restic's, plus automatic expiry of dead locks and self-fencing of live ones.
//
// # Format
//
// A lock is a file locks/<id> holding the JSON of [Lock] (fields time,
// exclusive, hostname, username, pid, uid, gid in that order, uid and gid
// omitted when zero), encrypted and compressed by the [Store]. restic sees
// arca's locks and arca sees restic's.
//
// # Acquiring
//
// As restic: list and read every lock; give up if a live lock conflicts (an
// exclusive lock conflicts with every lock, a shared one only with exclusive
// ones); write our lock; wait CheckDelay (none when the store lists every
// completed write, Options.ConsistentList); list and read again. Listing and
// reading are retried on backend errors (4 attempts, doubling delay). Every
// look at the locks uses the union of two listings taken back to back (one
// listing may miss both files of a holder refreshing meanwhile), and is taken
// again when a listed file vanishes before it is read. Empty
// lock files are ignored, as restic does (a non-atomic upload may leave them).
// A lock that cannot be read or decoded is not ignored (it may belong to a
// live holder): it fails the acquisition with an [InvalidLockError] until it
// expires by file time or observation (below). With Options.RetryLock the
// whole attempt is repeated with restic's backoff (5 s doubling to 60 s).
//
// Two differences from restic. Stale locks do not block: they are removed
// after our own lock is written, and the check is repeated after the removal,
// so a holder that revived its lock at that moment (restic's refreshStaleLock)
// is seen. And when two contenders see each other in the re-check, restic makes
// both give up; arca breaks the tie: the contender with the lexicographically
// smaller lock ID keeps its file and polls for up to 2×CheckDelay (50 ms
// without a delay) for the others to withdraw, the larger one withdraws at
// once. A lock that stays is an
// established holder (or a non-arca contender that has not withdrawn), and the
// smaller contender then gives up too. It only ever wins on a listing that
// was taken after its own file was written and shows no live conflict, so the
// usual write-then-check argument still guarantees that at most one of two
// conflicting contenders wins, and between arca contenders exactly one does.
//
// A third: on a store that lists every lock file whose write has returned
// (Options.ConsistentList: a local disk; S3 on AWS, R2 or MinIO) the check
// follows the write at once. Each contender lists after its own write
// returned, so of two the later lister sees the other's file: the delay
// adds nothing to safety there. restic's contenders still wait their
// 200 ms, which only makes them see arca's lock later, never miss it.
//
// # Stale rules
//
// A lock held by this Locker is never stale. Any other lock is stale when
//
//  1. it was written on this host (same hostname) and kill(pid, 0) reports
//     ESRCH (restic's rule), or
//  2. this Locker has watched the same lock ID stay in place, on its own
//     monotonic clock (CLOCK_BOOTTIME on Linux, so it counts suspend), for
//     longer than ObserveTimeout (default: StaleTimeout), or
//  3. its age exceeds StaleTimeout by its own timestamp (holder's clock
//     against ours) AND by the backend's modification time; when the
//     timestamp lies in the future (more than Margin ahead of our clock) the
//     holder's clock is known to be wrong and the modification time alone
//     decides; when the backend reports no modification time the timestamp
//     alone decides (restic's rule). Unreadable locks are judged by
//     modification time alone.
//
// Rule 3 is skipped when this Locker saw the ID appear (absent from an earlier
// listing) less than StaleTimeout ago by its monotonic clock, so a holder whose
// clock runs hours behind is never expired early. The backend's "now" for
// modification times is taken from the modification time of our own lock file
// (anchored to the monotonic clock at its write), so rule 3 compares backend
// time with backend time; only without such an anchor (unlock without a lock)
// is our wall clock used.
//
// Why rule 2 waits for StaleTimeout and not RefreshInterval+Margin: an ID that
// outlives RefreshInterval+Margin shows that the holder missed a refresh, not
// that it stopped working. restic keeps running for StaleTimeout−1.5×Refresh
// (22.5 min) while its refreshes fail, arca for StaleTimeout−Margin; removing
// the lock earlier could let a prune run beside a live backup. Such a lock is
// only reported as suspect ([Info].Reason); it expires once watched for
// ObserveTimeout, after every holder with the same settings has fenced itself.
// ObserveTimeout must exceed StaleTimeout−Margin. A lock ID never comes back
// once removed (IDs are hashes of randomly keyed ciphertext), so seeing an ID
// in two listings proves it was there for the whole time between them.
//
// # Refresh and fencing
//
// A [Held] lock is refreshed every RefreshInterval (failed attempts are retried
// every RefreshInterval/5) the way restic refreshes a stale lock: check that
// our file still exists, write a replacement, wait CheckDelay, check again that
// the old file still exists, remove the old file. The lock is lost, and the
// context from [Held.Context] cancelled with a cause wrapping [ErrLost], when
// our file has been removed by someone else, or when no refresh has succeeded
// for StaleTimeout−Margin on the monotonic clock (before anyone could consider
// it stale). After Release or loss nothing more is written; the files are
// removed.
//
// All processes sharing a repository should use the same timings; holders with
// a longer StaleTimeout than an observer's ObserveTimeout are not protected.
package lock
