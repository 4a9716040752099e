package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"runtime/debug"
	"time"

	"golang.org/x/crypto/scrypt"
)

// SaltSize is the length of the scrypt salt in key files; restic requires
// exactly this length.
const SaltSize = 64

// Calibration targets restic uses when it creates a key: the KDF may take
// at most this long and use at most this many MiB.
const (
	DefaultCalibrateTimeout = 500 * time.Millisecond
	DefaultCalibrateMemory  = 60
)

// Params are scrypt's cost parameters: N (CPU/memory cost, a power of two),
// R (block size) and P (parallelism).
type Params struct {
	N, R, P int
}

// DefaultParams are restic's fallback scrypt parameters (N=2^14, r=8, p=1).
// Treat as read-only.
var DefaultParams = Params{N: 16384, R: 8, P: 1}

// ErrInvalidParams is wrapped by errors about unusable scrypt parameters.
var ErrInvalidParams = errors.New("invalid scrypt parameters")

const maxInt32 = 1<<31 - 1

// Validate checks p against scrypt's limits: N a power of two greater than
// 1, R and P positive, R·P < 2^30, and 128·R·N and 128·R·P within 2^31.
func (p Params) Validate() error {
	switch {
	case p.N <= 1 || p.N > maxInt32 || bits.OnesCount(uint(p.N)) != 1:
		return fmt.Errorf("crypto: scrypt N=%d is not a power of two in [2, 2^30]: %w", p.N, ErrInvalidParams)
	case p.R < 1 || p.R > maxInt32:
		return fmt.Errorf("crypto: scrypt r=%d out of range: %w", p.R, ErrInvalidParams)
	case p.P < 1 || p.P > maxInt32:
		return fmt.Errorf("crypto: scrypt p=%d out of range: %w", p.P, ErrInvalidParams)
	case uint64(p.R)*uint64(p.P) >= 1<<30 || p.R > maxInt32/128/p.P || p.R > maxInt32/256 || p.N > maxInt32/128/p.R:
		return fmt.Errorf("crypto: scrypt N=%d r=%d p=%d exceed scrypt's limits: %w", p.N, p.R, p.P, ErrInvalidParams)
	}
	return nil
}

// Memory returns scrypt's approximate memory use in bytes for p (128·R·N).
func (p Params) Memory() int64 {
	return 128 * int64(p.R) * int64(p.N)
}

// NewSalt returns SaltSize random bytes for KDF. crypto/rand cannot fail,
// so the error is always nil; it is kept for the API's sake.
func NewSalt() ([]byte, error) {
	salt := make([]byte, SaltSize)
	_, _ = rand.Read(salt)
	return salt, nil
}

// KDF derives a Key from password with scrypt: 64 bytes, of which the first
// 32 are the AES-256 key, the next 16 the MAC's K and the last 16 its R
// (stored clamped). The salt must be SaltSize bytes, as restic requires.
func KDF(p Params, salt []byte, password string) (*Key, error) {
	if len(salt) != SaltSize {
		return nil, fmt.Errorf("crypto: kdf: salt is %d bytes, want %d", len(salt), SaltSize)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("crypto: kdf: %w", err)
	}
	const outLen = encKeySize + macKSize + macRSize
	out, err := scryptKey(password, salt, p, outLen)
	if err != nil {
		return nil, fmt.Errorf("crypto: kdf: scrypt: %w", err)
	}
	if len(out) != outLen {
		return nil, fmt.Errorf("crypto: kdf: scrypt returned %d bytes, want %d", len(out), outLen)
	}
	k := &Key{}
	copy(k.EncryptionKey[:], out[:encKeySize])
	copy(k.MACKey.K[:], out[encKeySize:encKeySize+macKSize])
	copy(k.MACKey.R[:], out[encKeySize+macKSize:])
	clampR(&k.MACKey.R)
	clear(out)
	return k, nil
}

// Calibrate picks scrypt parameters for this machine to the same result
// as restic (through simple-scrypt), in a fraction of its time: r is 8; N
// is the largest power of two whose 128·r·N stays below memory MiB,
// halved while one derivation takes longer than timeout; p is the largest
// number of lanes whose derivation stays under timeout.
//
// restic finds p by trial, deriving keys of more and more lanes until one
// takes longer than timeout and then stepping back one; those trials add
// up to several times timeout (about two seconds of "init"). The time of
// a derivation is a set-up plus the same amount for each lane, so
// Calibrate times one derivation of one lane and one of two lanes and
// computes from them the p restic's search converges to.
//
// Derivations are timed in CPU time where the system has a thread CPU
// clock (Linux), so that other work on the machine at that moment does
// not weaken the key for good (restic times wall-clock time: under load
// it picks a smaller p or even a smaller N); the parameters are those
// restic picks on the machine when it is idle.
//
// Derivations are timed with golang.org/x/crypto's scrypt, the one restic
// uses, not with arca's faster one: the parameters then cost restic what
// its own calibration would choose (restic users see the opening time
// they expect, and the keys are as strong as restic's), while arca opens
// the same keys faster. Timing arca's scrypt would pick a larger p, so
// restic would take longer to open arca's keys and arca itself would be
// no faster.
//
// timeout 0 means 200ms and memory 0 means 16 MiB (simple-scrypt's
// defaults); negative values are errors. On error DefaultParams are
// returned along with it.
func Calibrate(timeout time.Duration, memory int) (Params, error) {
	t := newTrials()
	defer t.close()
	return calibrate(timeout, memory, t.run)
}

// trials runs Calibrate's timed derivations.
//
// Each trial's table is x/crypto's to allocate, and all of them must take
// the same memory, one after the other: "init" would otherwise hold two
// tables at once (68 MiB of calibration instead of 36, in one calibration
// of eight to fifteen measured), and since fresh memory is slow to fault
// in, that trial would pay for it and the calibration would choose a p
// too small. So the first trial is preceded by faultIn, which leaves a
// table's memory resident, and each one by a collection, which makes the
// last table's memory free for the next. In between, the Go runtime must
// not move that memory or give it back:
//   - no collection may start during a trial: it would still count the
//     table as in use when the next trial allocates its own;
//   - the scavenger must rest: it gives free memory back to the system
//     and marks what it is giving back as in use meanwhile, so a table
//     allocated at that moment no longer fits in the last one's place
//     (and memory given back is slow to use again);
//   - faultIn leaves a margin beyond a table (without it, 18 of 360
//     calibrations under load held two tables): after a collection, a
//     CPU (P) that allocates small objects first takes a page cache of up
//     to 512 KiB from the lowest free address, the start of the last
//     table, and the next table must still fit behind those.
//
// The runtime has no switch for the scavenger, but it paces it after
// each collection by how far the collector's heap goal moved: a goal
// raised ten-thousandfold right after a collection lets the heap retain
// ten thousand times what it uses, so the scavenger has nothing to do.
// So each trial collects at GOGC=100 and then raises GOGC to
// pausedGCPercent, which also keeps the collector from starting on its
// own. The scavenger may have started in between: the trial waits
// scavengerSettle for it to put back what it holds. With two busy loops
// beside it, one calibration in about 180 still held two tables without
// that wait, and 2 of 840 with it: rare, not impossible.
type trials struct {
	salt      [SaltSize]byte
	now       func() time.Duration
	gcPercent int // restored by close
	warm      bool
}

// pausedGCPercent is GOGC during trials: high enough that neither the
// collector nor the scavenger works on a heap of a few tables.
const pausedGCPercent = 1 << 20

// pageCacheMargin is the memory faultIn adds to a table for the page
// caches of the CPUs that allocate between trials: 512 KiB each (the Go
// runtime's 64 pages of 8 KiB), for up to four of them. Measured on two.
func pageCacheMargin() int64 {
	return int64(min(runtime.GOMAXPROCS(0), 4)) * 512 << 10
}

// scavengerSettle is how long a trial waits after raising GOGC for the
// scavenger to finish with memory it took before (it gives back 64 KiB
// at a time, in microseconds, unless the system preempts it).
const scavengerSettle = 2 * time.Millisecond

func newTrials() *trials {
	t := &trials{gcPercent: debug.SetGCPercent(pausedGCPercent)}
	_, _ = rand.Read(t.salt[:])
	now, ok := cpuClock()
	if !ok {
		epoch := time.Now()
		now = func() time.Duration { return time.Since(epoch) }
	}
	t.now = now
	return t
}

// run times one derivation with p.
func (t *trials) run(p Params) (time.Duration, error) {
	if !t.warm {
		faultIn(p.Memory() + pageCacheMargin())
		t.warm = true
	}
	// Free the last table (or faultIn's memory) for this one, then stop
	// the collector and the scavenger for the trial.
	debug.SetGCPercent(100)
	runtime.GC()
	debug.SetGCPercent(pausedGCPercent)
	time.Sleep(scavengerSettle)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := t.now()
	if _, err := scrypt.Key([]byte("calibration password"), t.salt[:], p.N, p.R, p.P, encKeySize+macKSize+macRSize); err != nil {
		return 0, fmt.Errorf("crypto: calibrate: scrypt N=%d r=%d p=%d: %w", p.N, p.R, p.P, err)
	}
	return t.now() - start, nil
}

// close restores GOGC and gives the trials' tables back to the system: a
// key derivation follows, with a table of its own, and they would add to
// its peak (init: 62-64 MiB with them, 49 without).
func (t *trials) close() {
	debug.SetGCPercent(t.gcPercent)
	debug.FreeOSMemory()
}

// faultIn has the Go heap fault in size bytes and leaves them garbage, so
// that the table golang.org/x/crypto's scrypt allocates in a timed
// derivation (after a collection) is memory the process already has.
// Faulting in fresh memory is slow on some machines (100-200 ms of CPU for
// 32 MiB on the virtual machine measured, against 80 ms for the derivation
// itself), and a trial that pays it measures the machine's memory set-up,
// not scrypt; in restic's trials whether it is paid depends on when the
// garbage collector last ran.
func faultIn(size int64) {
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
}

// calibrate is Calibrate with the timed derivation run.
func calibrate(timeout time.Duration, memory int, run func(Params) (time.Duration, error)) (Params, error) {
	if timeout < 0 || memory < 0 {
		return DefaultParams, fmt.Errorf("crypto: calibrate: negative timeout %v or memory %d: %w", timeout, memory, ErrInvalidParams)
	}
	if timeout == 0 {
		timeout = 200 * time.Millisecond
	}
	if memory == 0 {
		memory = 16
	}

	p := Params{N: 1, R: 8, P: 1}
	limit := int64(memory) << 20
	for p.Memory() < limit && p.N < 1<<30 {
		p.N <<= 1
	}
	p.N >>= 1
	if p.N < 2 {
		return DefaultParams, fmt.Errorf("crypto: calibrate: %d MiB is too little memory for scrypt: %w", memory, ErrInvalidParams)
	}

	dur, err := run(p)
	if err != nil {
		return DefaultParams, err
	}
	for dur > timeout {
		if p.N <= 2 {
			return DefaultParams, fmt.Errorf("crypto: calibrate: even N=2 takes %v, more than %v", dur, timeout)
		}
		p.N >>= 1
		if dur, err = run(p); err != nil {
			return DefaultParams, err
		}
	}

	// A derivation costs a set-up (allocating and clearing its table)
	// plus the same time per lane: the two-lane run minus the one-lane run
	// is one lane, and the rest of the two-lane run is the set-up.
	setup, perLane := time.Duration(0), dur
	if 2*dur < timeout {
		two := p
		two.P = 2
		d2, err := run(two)
		if err != nil {
			return DefaultParams, err
		}
		perLane, setup = splitSetup(dur, d2)
	}
	p.P = lanesUnder(timeout-setup, perLane)
	if err := p.Validate(); err != nil {
		return DefaultParams, fmt.Errorf("crypto: calibrate: %w", err)
	}
	return p, nil
}

// splitSetup splits d2, the time of a two-lane derivation, into two lanes
// and a set-up, given d1, the time of a one-lane derivation.
//
// The difference d2-d1 is one lane only if the machine ran both at the
// same speed. A virtual machine's CPU does not: on the 2-CPU VM measured,
// x/crypto's lanes took 65 ms in one trial and 100 ms in another, while
// the set-up (clearing a table that faultIn has made resident) came to
// 0-7 ms where the two trials ran at one speed. A one-lane trial slowed
// that way made the difference look like a short lane after a long
// set-up, and p came out 10 to 13 where restic picks 4 to 6. So a
// difference that would make the set-up more than a fifth of d2 (or
// negative) is not believed: the lanes then take all of d2.
func splitSetup(d1, d2 time.Duration) (perLane, setup time.Duration) {
	perLane = d2 - d1
	if perLane < 2*d2/5 || perLane > d2/2 {
		perLane = d2 / 2
	}
	return perLane, d2 - 2*perLane
}

// lanesUnder is the p restic's search ends with when each lane takes
// perLane (and budget is its timeout less the set-up): it raises p until
// a derivation takes at least the timeout, then steps back one, so the
// result is the largest p with p·perLane below budget, and at least 1.
func lanesUnder(budget, perLane time.Duration) int {
	const maxP = (1<<30 - 1) / 8 // keep r·p < 2^30
	perLane = max(perLane, 1)
	p := int64((budget + perLane - 1) / perLane) // first p reaching the timeout
	return int(min(max(p-1, 1), maxP))
}
