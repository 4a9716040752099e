// Package fsync commits files to stable storage without holding up the
// Go scheduler.
//
// A goroutine in a blocking system call keeps its P (one of GOMAXPROCS
// slots for running Go code) until the runtime's monitor notices, which
// takes from 20 µs up to 10 ms. An fsync waits for the disk, often for
// milliseconds, so on a machine with two Ps a backup that syncs every
// pack it writes lost a tenth of its CPU time that way: goroutines were
// ready to run while one P sat in fsync (the runtime's execution tracer
// counted 0.36 s of P time held in fsync for up to 14 ms at a time, in a
// 1.8 s backup of 1 GiB with compression off). With the syncs below, the
// same backup took 1.80-1.94 s instead of 1.95-2.06 s (six alternating
// runs each, medians 1.90 and 2.02 s).
//
// On Linux File hands the fsync to the kernel through an io_uring and
// waits for its completion on an eventfd through the runtime's network
// poller, which parks the goroutine and frees its P at once. The kernel
// runs the same vfs_fsync a plain fsync runs, so the guarantees are the
// same. Where io_uring is missing or refused (kernels before 5.4,
// container sandboxes that filter it), where the ring does not take the
// operation (EINVAL, EOPNOTSUPP), and on other systems, File calls
// (*os.File).Sync. Other errors of the ring's fsync are returned as they
// are: after an I/O error a second fsync could report success for data
// the first one failed to write.
//
// Linux AIO (IOCB_CMD_FSYNC) would do the same with less set-up, but
// releasing an AIO context waits for an RCU grace period: 31-45 ms here,
// at io_destroy or at the latest when the process exits, which would add
// that much to every command that syncs a file.
package fsync
