package fsync

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring ABI (include/uapi/linux/io_uring.h).
const (
	opFsync         = 3          // IORING_OP_FSYNC
	offSQEs         = 0x10000000 // IORING_OFF_SQES
	featSingleMmap  = 1 << 0     // IORING_FEAT_SINGLE_MMAP
	registerEventfd = 4          // IORING_REGISTER_EVENTFD
	sqeSize         = 64
	cqeSize         = 16
)

type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type ringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqRingOffsets
	cqOff                                                                  cqRingOffsets
}

type submission struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	fsyncFlags  uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

type completion struct {
	userData uint64
	res      int32
	flags    uint32
}

// File commits f's data and metadata to stable storage, as f.Sync does.
func File(f *os.File) error {
	if err := ringSync(f); !errors.Is(err, errFallback) {
		return err
	}
	return f.Sync()
}

// errFallback means the sync could not be made through a ring.
var errFallback = errors.New("fsync: no io_uring")

// ringSync makes a ring of one entry, submits an fsync of f to it and
// waits for the completion on an eventfd. A ring per call costs a few
// system calls, little beside an fsync, and leaves nothing to release
// later: closing a ring is finished by the kernel in the background.
func ringSync(f *os.File) error {
	var p ringParams
	rfd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		// ENOSYS: an old kernel; EPERM: io_uring disabled or filtered
		return errFallback
	}
	defer unix.Close(int(rfd))
	if p.features&featSingleMmap == 0 {
		return errFallback
	}
	ringLen := max(int(p.sqOff.array+p.sqEntries*4), int(p.cqOff.cqes+p.cqEntries*cqeSize))
	ring, err := unix.Mmap(int(rfd), 0, ringLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return errFallback
	}
	defer unix.Munmap(ring)
	sqes, err := unix.Mmap(int(rfd), offSQEs, int(p.sqEntries*sqeSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return errFallback
	}
	defer unix.Munmap(sqes)

	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return errFallback
	}
	// a non-blocking descriptor in an os.File waits in the network poller
	ev := os.NewFile(uintptr(efd), "fsync-eventfd")
	defer ev.Close()
	efd32 := int32(efd)
	if _, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, rfd, registerEventfd, uintptr(unsafe.Pointer(&efd32)), 1, 0, 0); e != 0 {
		return errFallback
	}

	conn, err := f.SyscallConn()
	if err != nil {
		return errFallback
	}
	var submitErr error
	err = conn.Control(func(fd uintptr) {
		sqe := (*submission)(unsafe.Pointer(&sqes[0]))
		*sqe = submission{opcode: opFsync, fd: int32(fd), userData: 1}
		tail := (*uint32)(unsafe.Pointer(&ring[p.sqOff.tail]))
		mask := *(*uint32)(unsafe.Pointer(&ring[p.sqOff.ringMask]))
		t := atomic.LoadUint32(tail)
		*(*uint32)(unsafe.Pointer(&ring[p.sqOff.array+4*(t&mask)])) = 0
		atomic.StoreUint32(tail, t+1)
		// the kernel takes its reference to the file here, while fd is
		// certainly f's
		n, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, rfd, 1, 0, 0, 0, 0)
		switch {
		case e != 0:
			submitErr = e
		case n != 1:
			submitErr = syscall.EAGAIN
		}
	})
	if err != nil || submitErr != nil {
		return errFallback
	}

	head := (*uint32)(unsafe.Pointer(&ring[p.cqOff.head]))
	ctail := (*uint32)(unsafe.Pointer(&ring[p.cqOff.tail]))
	var buf [8]byte
	for atomic.LoadUint32(head) == atomic.LoadUint32(ctail) {
		if _, err := ev.Read(buf[:]); err != nil {
			// the fsync is under way and will finish, but its result
			// cannot be had: sync again the ordinary way
			return errFallback
		}
	}
	cmask := *(*uint32)(unsafe.Pointer(&ring[p.cqOff.ringMask]))
	h := atomic.LoadUint32(head)
	cqe := (*completion)(unsafe.Pointer(&ring[p.cqOff.cqes+cqeSize*(h&cmask)]))
	res := cqe.res
	atomic.StoreUint32(head, h+1)
	switch errno := syscall.Errno(-res); {
	case res >= 0:
		return nil
	case errno == syscall.EINVAL || errno == syscall.EOPNOTSUPP:
		// the ring may not take the operation where fsync would (an old
		// kernel's io_uring, a restricted ring): fsync says what holds
		return errFallback
	default:
		// an I/O error is final: a second fsync could report success for
		// data the first one failed to write
		return &os.PathError{Op: "sync", Path: f.Name(), Err: errno}
	}
}
