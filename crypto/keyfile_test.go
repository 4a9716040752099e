package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func newTestKeyFile(t *testing.T, master *Key, password string) *KeyFile {
	t.Helper()
	created := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.FixedZone("", 3600))
	kf, err := NewKeyFile(master, password, testParams, "alice", "box", created)
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

// jsonKeys returns the top-level object keys of a JSON document in order.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestKeyFileRoundTrip(t *testing.T) {
	master := NewRandomKey()
	kf := newTestKeyFile(t, master, "pw1")
	if kf.KDF != "scrypt" || kf.Params() != testParams || len(kf.Salt) != SaltSize {
		t.Fatalf("unexpected key file %+v", kf)
	}
	if len(kf.Data) != len(`{"mac":{"k":"","r":""},"encrypt":""}`)+24+24+44+Extension {
		t.Fatalf("data is %d bytes", len(kf.Data))
	}

	b, err := kf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"created", "username", "hostname", "kdf", "N", "r", "p", "salt", "data"}
	if got := jsonKeys(t, b); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("key file fields %v, want %v", got, want)
	}
	if !strings.HasPrefix(string(b), `{"created":"2025-03-04T05:06:07.891011+01:00","username":"alice","hostname":"box","kdf":"scrypt","N":1024,"r":8,"p":1,"salt":"`) {
		t.Fatalf("unexpected encoding: %s", b)
	}
	if std, _ := json.Marshal(kf); !bytes.Equal(std, b) {
		t.Fatal("Marshal differs from json.Marshal")
	}

	parsed, err := ParseKeyFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Created.Equal(kf.Created) || parsed.Username != "alice" || parsed.Hostname != "box" ||
		!bytes.Equal(parsed.Salt, kf.Salt) || !bytes.Equal(parsed.Data, kf.Data) {
		t.Fatalf("parse mismatch: %+v", parsed)
	}
	if again, _ := parsed.Marshal(); !bytes.Equal(again, b) {
		t.Fatal("marshal(parse(x)) != x")
	}

	got, err := parsed.Open("pw1")
	if err != nil {
		t.Fatal(err)
	}
	if *got != *master {
		t.Fatal("opened master key differs")
	}

	_, err = parsed.Open("pw2")
	if !errors.Is(err, ErrWrongPassword) || !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := parsed.Open(""); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("empty password: %v", err)
	}

	// Two key files for the same master key differ (fresh salt and IV).
	kf2 := newTestKeyFile(t, master, "pw1")
	if bytes.Equal(kf2.Salt, kf.Salt) || bytes.Equal(kf2.Data, kf.Data) {
		t.Fatal("salt or data reused")
	}
}

func TestNewKeyFileErrors(t *testing.T) {
	if _, err := NewKeyFile(&Key{}, "pw", testParams, "", "", time.Now()); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("zero master: %v", err)
	}
	if _, err := NewKeyFile(nil, "pw", testParams, "", "", time.Now()); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("nil master: %v", err)
	}
	if _, err := NewKeyFile(NewRandomKey(), "pw", Params{N: 3, R: 1, P: 1}, "", "", time.Now()); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("bad params: %v", err)
	}
}

func TestKeyFileOpenErrors(t *testing.T) {
	master := NewRandomKey()
	base := newTestKeyFile(t, master, "pw")

	sealWith := func(kf *KeyFile, plain []byte) {
		user, err := KDF(kf.Params(), kf.Salt, "pw")
		if err != nil {
			t.Fatal(err)
		}
		kf.Data = user.Seal(nil, plain)
	}

	cases := []struct {
		name string
		mod  func(*KeyFile)
		want error
	}{
		{"kdf", func(kf *KeyFile) { kf.KDF = "argon2" }, ErrUnsupportedKDF},
		{"no kdf", func(kf *KeyFile) { kf.KDF = "" }, ErrUnsupportedKDF},
		{"N", func(kf *KeyFile) { kf.N = 1000 }, ErrInvalidParams},
		{"r", func(kf *KeyFile) { kf.R = 0 }, ErrInvalidParams},
		{"p", func(kf *KeyFile) { kf.P = -1 }, ErrInvalidParams},
		{"salt", func(kf *KeyFile) { kf.Salt = kf.Salt[:32] }, ErrMalformedKeyFile},
		{"short data", func(kf *KeyFile) { kf.Data = kf.Data[:Extension-1] }, ErrMalformedKeyFile},
		{"changed salt", func(kf *KeyFile) { kf.Salt = append([]byte{1}, kf.Salt[1:]...) }, ErrWrongPassword},
		{"changed N", func(kf *KeyFile) { kf.N = 2048 }, ErrWrongPassword},
		{"tampered data", func(kf *KeyFile) { kf.Data = append([]byte(nil), kf.Data...); kf.Data[20] ^= 1 }, ErrWrongPassword},
		{"master not JSON", func(kf *KeyFile) { sealWith(kf, []byte("not json")) }, ErrMalformedKeyFile},
		{"master short", func(kf *KeyFile) {
			sealWith(kf, []byte(`{"mac":{"k":"AAAA","r":"AAAA"},"encrypt":"AAAA"}`))
		}, ErrMalformedKeyFile},
		{"master zero", func(kf *KeyFile) {
			b, _ := json.Marshal(&Key{})
			sealWith(kf, b)
		}, ErrMalformedKeyFile},
	}
	for _, c := range cases {
		kf := *base
		c.mod(&kf)
		_, err := kf.Open("pw")
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
		if c.want != ErrWrongPassword && errors.Is(err, ErrWrongPassword) {
			t.Errorf("%s: reported as wrong password: %v", c.name, err)
		}
	}
}

func TestParseKeyFileErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{"N":"x"}`, `{"salt":"***"}`, `{"created":"yesterday"}`, `{} x`} {
		if _, err := ParseKeyFile([]byte(in)); !errors.Is(err, ErrMalformedKeyFile) {
			t.Errorf("%q: %v, want ErrMalformedKeyFile", in, err)
		}
	}
}
