package crypto

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/scrypt"
)

// testParams are cheap scrypt parameters for tests.
var testParams = Params{N: 1024, R: 8, P: 1}

func TestKDFSplit(t *testing.T) {
	salt := pattern(SaltSize)
	k, err := KDF(testParams, salt, "geheim")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := scrypt.Key([]byte("geheim"), salt, testParams.N, testParams.R, testParams.P, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.EncryptionKey[:], raw[:32]) || !bytes.Equal(k.MACKey.K[:], raw[32:48]) {
		t.Fatal("KDF output not split as encryption key || MAC k || MAC r")
	}
	var r [16]byte
	copy(r[:], raw[48:])
	clampR(&r)
	if k.MACKey.R != r {
		t.Fatalf("MAC r %x, want clamped %x", k.MACKey.R, r)
	}
	if !k.Valid() {
		t.Fatal("derived key invalid")
	}

	again, _ := KDF(testParams, salt, "geheim")
	if *again != *k {
		t.Fatal("KDF not deterministic")
	}
	other, _ := KDF(testParams, salt, "geheim!")
	if *other == *k {
		t.Fatal("different passwords give the same key")
	}
	salt2 := append([]byte(nil), salt...)
	salt2[63] ^= 1
	other, _ = KDF(testParams, salt2, "geheim")
	if *other == *k {
		t.Fatal("different salts give the same key")
	}
	other, _ = KDF(Params{N: 2048, R: 8, P: 1}, salt, "geheim")
	if *other == *k {
		t.Fatal("different N gives the same key")
	}
}

func TestKDFErrors(t *testing.T) {
	if _, err := KDF(testParams, make([]byte, 16), "x"); err == nil {
		t.Fatal("16-byte salt accepted")
	}
	if _, err := KDF(Params{N: 1000, R: 8, P: 1}, make([]byte, SaltSize), "x"); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("N=1000: %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	good := []Params{DefaultParams, testParams, {N: 2, R: 1, P: 1}, {N: 32768, R: 8, P: 6}}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	huge := 1 << 20
	huge *= huge // 2^40 where int has 64 bits (and 0, also invalid, where it has 32)
	bad := []Params{
		{}, {N: 1, R: 8, P: 1}, {N: 0, R: 8, P: 1}, {N: -16, R: 8, P: 1}, {N: 1000, R: 8, P: 1},
		{N: 1024, R: 0, P: 1}, {N: 1024, R: 8, P: 0}, {N: 1024, R: -1, P: 1},
		{N: 1024, R: 1 << 15, P: 1 << 15}, {N: 1 << 30, R: 8, P: 1}, {N: huge, R: 1, P: 1},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%+v: %v, want ErrInvalidParams", p, err)
		}
	}
}

func TestDefaultParams(t *testing.T) {
	if DefaultParams != (Params{N: 16384, R: 8, P: 1}) {
		t.Fatalf("DefaultParams %+v differ from restic's", DefaultParams)
	}
}

func TestCalibrate(t *testing.T) {
	p, err := Calibrate(30_000_000, 2) // 30ms, 2 MiB
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("%+v: %v", p, err)
	}
	if p.R != 8 || p.P < 1 {
		t.Fatalf("unexpected params %+v", p)
	}
	if p.Memory() >= 2<<20 {
		t.Fatalf("params %+v use %d bytes, limit 2 MiB", p, p.Memory())
	}
	t.Logf("calibrated: %+v", p)

	if _, err := Calibrate(-1, 10); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("negative timeout: %v", err)
	}
	if _, err := Calibrate(1, -1); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("negative memory: %v", err)
	}
}

func TestNewSalt(t *testing.T) {
	a, err := NewSalt()
	if err != nil || len(a) != SaltSize {
		t.Fatalf("salt %d bytes, %v", len(a), err)
	}
	b, _ := NewSalt()
	if bytes.Equal(a, b) {
		t.Fatal("salts repeat")
	}
}

// resticSearch is simple-scrypt's search for p (which restic's Calibrate
// uses), written out for the comparison in TestCalibrateMatchesResticSearch.
func resticSearch(timeout time.Duration, dur func(p int) time.Duration) int {
	p := 1
	d := dur(p)
	for d < timeout {
		perP := int64(d) / int64(p)
		optimal := int(int64(timeout) / max(perP, 1))
		if optimal > p+1 {
			p = (p + optimal) / 2
		} else {
			p++
		}
		d = dur(p)
	}
	if p > 1 {
		p--
	}
	return p
}

// TestCalibrateMatchesResticSearch runs calibrate against a model of a
// machine where each lane costs a fixed time and checks that it chooses
// what restic's trial-and-error search chooses, with at most three timed
// derivations (restic needs four to ten).
func TestCalibrateMatchesResticSearch(t *testing.T) {
	const timeout = 500 * time.Millisecond
	for _, lane := range []time.Duration{7 * time.Millisecond, 33 * time.Millisecond, 61 * time.Millisecond, 100 * time.Millisecond, 124 * time.Millisecond, 250 * time.Millisecond, 260 * time.Millisecond, 499 * time.Millisecond} {
		var runs []Params
		model := func(p Params) (time.Duration, error) {
			runs = append(runs, p)
			return time.Duration(p.P) * lane * time.Duration(p.N) / (1 << 15), nil
		}
		got, err := calibrate(timeout, 60, model)
		if err != nil {
			t.Fatal(err)
		}
		want := resticSearch(timeout, func(p int) time.Duration { return time.Duration(p) * lane })
		if got != (Params{N: 1 << 15, R: 8, P: want}) {
			t.Errorf("lane %v: calibrate chose %+v, restic's search p=%d (N=2^15)", lane, got, want)
		}
		if len(runs) > 2 {
			t.Errorf("lane %v: %d timed derivations %v, want at most 2", lane, len(runs), runs)
		}
	}

	// A machine too slow for N=2^15 within the timeout: N is halved as
	// restic does, then p is chosen for the smaller N.
	slow := func(p Params) (time.Duration, error) {
		return time.Duration(p.P) * 800 * time.Millisecond * time.Duration(p.N) / (1 << 15), nil
	}
	got, err := calibrate(timeout, 60, slow)
	if err != nil {
		t.Fatal(err)
	}
	if got != (Params{N: 1 << 14, R: 8, P: 1}) {
		t.Errorf("slow machine: %+v, want N=2^14 p=1", got)
	}

	// A fixed cost per derivation (the table's set-up), up to a fifth of
	// a two-lane derivation, is taken into account as restic's search
	// does.
	for _, c := range []struct{ lane, setup time.Duration }{
		{40 * time.Millisecond, 15 * time.Millisecond},
		{70 * time.Millisecond, 30 * time.Millisecond},
		{81 * time.Millisecond, 30 * time.Millisecond},
		{65 * time.Millisecond, 5 * time.Millisecond},
	} {
		got, err := calibrate(timeout, 60, func(p Params) (time.Duration, error) { return c.setup + time.Duration(p.P)*c.lane, nil })
		if err != nil {
			t.Fatal(err)
		}
		want := resticSearch(timeout, func(p int) time.Duration { return c.setup + time.Duration(p)*c.lane })
		if got.P != want {
			t.Errorf("lane %v + set-up %v: p=%d, restic's search %d", c.lane, c.setup, got.P, want)
		}
	}
}

// TestCalibrateSlowedFirstRun: a virtual machine's CPU changes speed from
// one moment to the next. When the one-lane trial ran slower than the
// two-lane one, the difference of the two is no lane; calibrate must not
// read it as a short lane after a long set-up (which chose p=10 to 13
// where restic chose 4 to 6), but choose what restic's search chooses on
// the machine at its steady speed. Without that guard this test fails.
func TestCalibrateSlowedFirstRun(t *testing.T) {
	const timeout = 500 * time.Millisecond
	const lane, setup = 65 * time.Millisecond, 5 * time.Millisecond
	want := resticSearch(timeout, func(p int) time.Duration { return setup + time.Duration(p)*lane })
	for _, slower := range []float64{1.25, 1.4, 2} {
		runs := 0
		got, err := calibrate(timeout, 60, func(p Params) (time.Duration, error) {
			runs++
			d := setup + time.Duration(p.P)*lane
			if runs == 1 {
				d = time.Duration(float64(d) * slower)
			}
			return d, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.P != want {
			t.Errorf("one-lane run %.2f times slower: p=%d, restic's search on the steady machine %d", slower, got.P, want)
		}
	}
}
