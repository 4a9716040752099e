package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/bits"
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

// Calibrate picks scrypt parameters for this machine the way restic does
// (through simple-scrypt): r is fixed at 8; N is the largest power of two
// whose 128·r·N stays below memory MiB, halved while one derivation takes
// longer than timeout; then p is raised until a derivation takes about
// timeout, and finally lowered by one to stay under it.
//
// timeout 0 means 200ms and memory 0 means 16 MiB (simple-scrypt's
// defaults); negative values are errors. On error DefaultParams are
// returned along with it.
func Calibrate(timeout time.Duration, memory int) (Params, error) {
	if timeout < 0 || memory < 0 {
		return DefaultParams, fmt.Errorf("crypto: calibrate: negative timeout %v or memory %d: %w", timeout, memory, ErrInvalidParams)
	}
	if timeout == 0 {
		timeout = 200 * time.Millisecond
	}
	if memory == 0 {
		memory = 16
	}

	var salt [SaltSize]byte
	_, _ = rand.Read(salt[:])
	password := []byte("calibration password")
	// timed with golang.org/x/crypto's scrypt, which restic uses, so that
	// keys cost restic what restic's own calibration would choose
	run := func(p Params) (time.Duration, error) {
		start := time.Now()
		if _, err := scrypt.Key(password, salt[:], p.N, p.R, p.P, encKeySize+macKSize+macRSize); err != nil {
			return 0, fmt.Errorf("crypto: calibrate: scrypt N=%d r=%d p=%d: %w", p.N, p.R, p.P, err)
		}
		return time.Since(start), nil
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

	const maxP = (1<<30 - 1) / 8 // keep r·p < 2^30
	for dur < timeout && p.P < maxP {
		perP := int64(dur) / int64(p.P)
		if perP <= 0 {
			perP = 1
		}
		optimal := int64(timeout) / perP
		if optimal > int64(p.P)+1 {
			next := (int64(p.P) + optimal) / 2
			// Guard against a coarse clock: at most 16 times the work per step.
			next = min(next, int64(p.P)*16, maxP)
			p.P = int(next)
		} else {
			p.P++
		}
		if dur, err = run(p); err != nil {
			return DefaultParams, err
		}
	}
	if p.P > 1 {
		p.P--
	}
	if err := p.Validate(); err != nil {
		return DefaultParams, fmt.Errorf("crypto: calibrate: %w", err)
	}
	return p, nil
}
