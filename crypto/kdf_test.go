package crypto

import (
	"bytes"
	"errors"
	"testing"

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
	bad := []Params{
		{}, {N: 1, R: 8, P: 1}, {N: 0, R: 8, P: 1}, {N: -16, R: 8, P: 1}, {N: 1000, R: 8, P: 1},
		{N: 1024, R: 0, P: 1}, {N: 1024, R: 8, P: 0}, {N: 1024, R: -1, P: 1},
		{N: 1024, R: 1 << 15, P: 1 << 15}, {N: 1 << 30, R: 8, P: 1}, {N: 1 << 40, R: 1, P: 1},
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
