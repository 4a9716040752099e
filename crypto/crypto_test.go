package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// testKey returns a fixed, valid key (deterministic for reproducible tests).
func testKey() *Key {
	k := &Key{}
	for i := range k.EncryptionKey {
		k.EncryptionKey[i] = byte(i + 1)
	}
	for i := range k.MACKey.K {
		k.MACKey.K[i] = byte(0x40 + i)
		k.MACKey.R[i] = byte(0x80 + 3*i)
	}
	clampR(&k.MACKey.R)
	return k
}

func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// Poly1305-AES test vectors from D. J. Bernstein, "The Poly1305-AES
// message-authentication code" (2005), appendix B: r, k (AES key), n, msg, tag.
var poly1305AESVectors = []struct{ r, k, n, msg, tag string }{
	{
		r:   "851fc40c3467ac0be05cc20404f3f700",
		k:   "ec074c835580741701425b623235add6",
		n:   "fb447350c4e868c52ac3275cf9d4327e",
		msg: "f3f6",
		tag: "f4c633c3044fc145f84f335cb81953de",
	},
	{
		r:   "a0f3080000f46400d0c7e9076c834403",
		k:   "75deaa25c09f208e1dc4ce6b5cad3fbf",
		n:   "61ee09218d29b0aaed7e154a2c5509cc",
		msg: "",
		tag: "dd3fab2251f11ac759f0887129cc2ee7",
	},
	{
		r:   "48443d0bb0d21109c89a100b5ce2c208",
		k:   "6acb5f61a7176dd320c5c1eb2edcdc74",
		n:   "ae212a55399729595dea458bc621ff0e",
		msg: "663cea190ffb83d89593f3f476b6bc24d7e679107ea26adb8caf6652d0656136",
		tag: "0ee1c16bb73f0f4fd19881753c01cdbe",
	},
	{
		r: "12976a08c4426d0ce8a82407c4f48207",
		k: "e1a5668a4d5b66a5f68cc5424ed5982d",
		n: "9ae831e743978d3a23527c7128149e3a",
		msg: "ab0812724a7f1e342742cbed374d94d136c6b8795d45b3819830f2c04491faf0" +
			"990c62e48b8018b2c3e4a0fa3134cb67fa83e158c994d961c4cb21095c1bf9",
		tag: "5154ad0d2cb26e01274fc51148491f1b",
	},
}

func TestPoly1305AESKnownAnswers(t *testing.T) {
	for i, v := range poly1305AESVectors {
		var mk MACKey
		copy(mk.R[:], unhex(t, v.r))
		copy(mk.K[:], unhex(t, v.k))
		var nonce [ivSize]byte
		copy(nonce[:], unhex(t, v.n))
		msg := unhex(t, v.msg)
		want := unhex(t, v.tag)

		var tag [macSize]byte
		mk.mac(&tag, &nonce, msg)
		if !bytes.Equal(tag[:], want) {
			t.Errorf("vector %d: tag %x, want %x", i, tag, want)
		}

		// The same vector through Open: IV || msg || tag must authenticate
		// (the "ciphertext" is msg; whatever it decrypts to).
		k := &Key{MACKey: mk}
		k.EncryptionKey[0] = 1
		blob := append(append(append([]byte{}, nonce[:]...), msg...), want...)
		if _, err := k.Open(nil, blob); err != nil {
			t.Errorf("vector %d: Open rejects a correct Poly1305-AES tag: %v", i, err)
		}
		blob[len(blob)-1] ^= 1
		if _, err := k.Open(nil, blob); err != ErrUnauthenticated {
			t.Errorf("vector %d: Open accepts a wrong tag: %v", i, err)
		}
	}
}

// NIST SP 800-38A F.5.5 (CTR-AES256.Encrypt): Open must decrypt with plain
// AES-256-CTR using the IV as the initial counter block.
func TestAES256CTRKnownAnswer(t *testing.T) {
	key := unhex(t, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
	iv := unhex(t, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	pt := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"+
		"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	ct := unhex(t, "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"+
		"2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6")

	k := testKey()
	copy(k.EncryptionKey[:], key)
	var nonce [ivSize]byte
	copy(nonce[:], iv)
	var tag [macSize]byte
	k.MACKey.mac(&tag, &nonce, ct)
	blob := append(append(append([]byte{}, iv...), ct...), tag[:]...)

	got, err := k.Open(nil, blob)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatalf("plaintext %x, want %x", got, pt)
	}
}

var roundTripSizes = []int{0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 1000, 4095, 4096, 4097, 65536 + 3, 1 << 20, 1<<20 + 7}

func TestSealOpenRoundTrip(t *testing.T) {
	k := NewRandomKey()
	for _, n := range roundTripSizes {
		pt := pattern(n)
		ct := k.Seal(nil, pt)
		if len(ct) != n+Extension || len(ct) != k.CiphertextLength(n) {
			t.Fatalf("size %d: sealed length %d, want %d", n, len(ct), n+Extension)
		}
		if k.PlaintextLength(len(ct)) != n {
			t.Fatalf("size %d: PlaintextLength %d", n, k.PlaintextLength(len(ct)))
		}
		if n >= 16 && bytes.Contains(ct, pt[:16]) {
			t.Fatalf("size %d: plaintext visible in ciphertext", n)
		}
		got, err := k.Open(nil, ct)
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("size %d: round trip mismatch", n)
		}
		if len(got) != n {
			t.Fatalf("size %d: got %d bytes", n, len(got))
		}

		ct2 := k.Seal(nil, pt)
		if bytes.Equal(ct[:ivSize], ct2[:ivSize]) {
			t.Fatalf("size %d: IV repeated", n)
		}
		if allZero(ct[:ivSize]) {
			t.Fatalf("size %d: zero IV", n)
		}
	}
}

func TestSealOpenAppendAndAlias(t *testing.T) {
	k := NewRandomKey()
	for _, n := range []int{0, 1, 17, 4096, 100003} {
		pt := pattern(n)

		// Appends after an existing prefix, in spare capacity and by growing.
		for _, extra := range []int{0, Extension - 1, n + Extension} {
			dst := append(make([]byte, 0, 5+extra), "hello"...)
			out := k.Seal(dst, pt)
			if string(out[:5]) != "hello" || len(out) != 5+n+Extension {
				t.Fatalf("n=%d extra=%d: Seal did not append", n, extra)
			}
			got, err := k.Open([]byte("abc"), out[5:])
			if err != nil || string(got[:3]) != "abc" || !bytes.Equal(got[3:], pt) {
				t.Fatalf("n=%d extra=%d: Open did not append: %v", n, extra, err)
			}
		}

		// In place, copy-free layout: plaintext at buf[16:], dst buf[:0].
		buf := make([]byte, ivSize+n, n+Extension)
		copy(buf[ivSize:], pt)
		sealed := k.Seal(buf[:0], buf[ivSize:ivSize+n])
		if n > 0 && &sealed[0] != &buf[0] {
			t.Fatalf("n=%d: in-place Seal reallocated", n)
		}
		// In place Open: plaintext moves to the start.
		opened, err := k.Open(sealed[:0], sealed)
		if err != nil || !bytes.Equal(opened, pt) {
			t.Fatalf("n=%d: in-place Open: %v", n, err)
		}
		if n > 0 && &opened[0] != &buf[0] {
			t.Fatalf("n=%d: in-place Open reallocated", n)
		}

		// Seal over its own plaintext (inexact overlap).
		buf = make([]byte, n, n+Extension)
		copy(buf, pt)
		sealed = k.Seal(buf[:0], buf)
		if got, err := k.Open(nil, sealed); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: Seal(p[:0], p): %v", n, err)
		}
		// Open into the ciphertext position itself (exact alias).
		ctCopy := append([]byte(nil), sealed...)
		got, err := k.Open(sealed[ivSize:ivSize], sealed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: Open exact alias: %v", n, err)
		}
		// Open into a destination that overlaps the tail of the input.
		big := make([]byte, 64+len(ctCopy))
		copy(big[64:], ctCopy)
		got, err = k.Open(big[70:70], big[64:])
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: Open shifted alias: %v", n, err)
		}
		// Seal from a source shifted after the destination's IV slot.
		big = make([]byte, 64+n+Extension)
		copy(big[3:], pt)
		sealed = k.Seal(big[:0], big[3:3+n])
		if got, err := k.Open(nil, sealed); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: Seal shifted alias: %v", n, err)
		}
	}
}

func TestOpenRejectsEveryBitFlip(t *testing.T) {
	k := NewRandomKey()
	for _, n := range []int{0, 1, 40} {
		pt := pattern(n)
		ct := k.Seal(nil, pt)
		dst := make([]byte, 0, len(ct))
		for i := 0; i < len(ct)*8; i++ {
			ct[i/8] ^= 1 << (i % 8)
			got, err := k.Open(dst, ct)
			if err != ErrUnauthenticated || !errors.Is(err, ErrUnauthenticated) || got != nil {
				t.Fatalf("n=%d: flipping bit %d (byte %d) not rejected: %v", n, i, i/8, err)
			}
			ct[i/8] ^= 1 << (i % 8)
		}
		if got, err := k.Open(nil, ct); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: restored ciphertext does not open: %v", n, err)
		}
	}
}

func TestOpenDoesNotWriteOnFailure(t *testing.T) {
	k := NewRandomKey()
	ct := k.Seal(nil, pattern(100))
	ct[50] ^= 4
	buf := bytes.Repeat([]byte{0x5c}, 200)
	if _, err := k.Open(buf[:0], ct); err == nil {
		t.Fatal("tampered ciphertext accepted")
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0x5c}, 200)) {
		t.Fatal("Open wrote into dst before authenticating")
	}
}

func TestOpenTruncatedAndExtended(t *testing.T) {
	k := NewRandomKey()
	ct := k.Seal(nil, pattern(100))
	for l := 0; l < len(ct); l++ {
		_, err := k.Open(nil, ct[:l])
		switch {
		case err == nil:
			t.Fatalf("truncated to %d accepted", l)
		case l < Extension && !errors.Is(err, ErrCiphertextTooShort):
			t.Fatalf("truncated to %d: %v, want ErrCiphertextTooShort", l, err)
		case l >= Extension && err != ErrUnauthenticated:
			t.Fatalf("truncated to %d: %v, want ErrUnauthenticated", l, err)
		}
		// Dropping a prefix must fail too.
		if _, err := k.Open(nil, ct[len(ct)-l:]); err == nil {
			t.Fatalf("suffix of %d accepted", l)
		}
	}
	if _, err := k.Open(nil, append(append([]byte{}, ct...), 0)); err != ErrUnauthenticated {
		t.Fatalf("extended ciphertext: %v", err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	k1, k2 := NewRandomKey(), NewRandomKey()
	ct := k1.Seal(nil, []byte("secret"))
	if _, err := k2.Open(nil, ct); err != ErrUnauthenticated {
		t.Fatalf("other key: %v", err)
	}
	// Same MAC key, other encryption key: authenticates but decrypts to
	// garbage, showing the two halves are independent.
	k3 := *k1
	k3.EncryptionKey[0] ^= 1
	got, err := k3.Open(nil, ct)
	if err != nil || bytes.Equal(got, []byte("secret")) {
		t.Fatalf("changed encryption key: %q, %v", got, err)
	}
}

func TestInvalidKeys(t *testing.T) {
	var zero Key
	if zero.Valid() || (*Key)(nil).Valid() {
		t.Fatal("zero/nil key reported valid")
	}
	for _, mod := range []func(*Key){
		func(k *Key) { k.EncryptionKey = EncryptionKey{} },
		func(k *Key) { k.MACKey.K = [16]byte{} },
		func(k *Key) { k.MACKey.R = [16]byte{} },
	} {
		k := testKey()
		mod(k)
		if k.Valid() {
			t.Fatal("partly zero key reported valid")
		}
		if _, err := k.Open(nil, make([]byte, 64)); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("Open with invalid key: %v", err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("Seal with invalid key did not panic")
				}
			}()
			k.Seal(nil, []byte("x"))
		}()
	}
}

func TestOpenRejectsZeroIV(t *testing.T) {
	k := testKey()
	var iv [ivSize]byte
	ct := []byte("some ciphertext")
	var tag [macSize]byte
	k.MACKey.mac(&tag, &iv, ct)
	blob := append(append(append([]byte{}, iv[:]...), ct...), tag[:]...)
	if _, err := k.Open(nil, blob); err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("zero IV: %v", err)
	}
}

// TestSealMatchesConstruction rebuilds a sealed blob from its parts with the
// standard library: ciphertext = AES-256-CTR(IV), tag = Poly1305 keyed with
// r || AES-128_K(IV) over the ciphertext only.
func TestSealMatchesConstruction(t *testing.T) {
	k := NewRandomKey()
	pt := pattern(1234)
	blob := k.Seal(nil, pt)
	iv, ct, tag := blob[:16], blob[16:len(blob)-16], blob[len(blob)-16:]

	b, _ := aes.NewCipher(k.EncryptionKey[:])
	want := make([]byte, len(pt))
	cipher.NewCTR(b, iv).XORKeyStream(want, pt)
	if !bytes.Equal(ct, want) {
		t.Fatal("ciphertext is not AES-256-CTR with the IV as counter block")
	}
	var nonce [16]byte
	copy(nonce[:], iv)
	var wantTag [16]byte
	k.MACKey.mac(&wantTag, &nonce, ct)
	if !bytes.Equal(tag, wantTag[:]) {
		t.Fatal("tag is not Poly1305-AES over the ciphertext")
	}
}

func TestNewRandomKey(t *testing.T) {
	a, b := NewRandomKey(), NewRandomKey()
	if !a.Valid() || !b.Valid() || *a == *b {
		t.Fatal("random keys invalid or equal")
	}
	r := a.MACKey.R
	clampR(&r)
	if r != a.MACKey.R {
		t.Fatalf("R not clamped: %x", a.MACKey.R)
	}
}

func TestKeyJSON(t *testing.T) {
	k := testKey()
	want := `{"mac":{"k":"QEFCQ0RFRkdISUpLTE1OTw==","r":"gIOGCYyPkgWYm54BpKeqDQ=="},` +
		`"encrypt":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}`
	for _, v := range []any{k, *k} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Fatalf("JSON of %T:\n got %s\nwant %s", v, b, want)
		}
	}
	var back Key
	if err := json.Unmarshal([]byte(want), &back); err != nil || back != *k {
		t.Fatalf("round trip: %v", err)
	}
	// Field-level types marshal as base64 on their own too.
	if b, _ := json.Marshal(k.EncryptionKey); !strings.HasPrefix(string(b), `"AQID`) {
		t.Fatalf("EncryptionKey JSON %s", b)
	}
	var mk MACKey
	if err := json.Unmarshal([]byte(`{"k":"QEFCQ0RFRkdISUpLTE1OTw==","r":"gIOGCYyPkgWYm54BpKeqDQ=="}`), &mk); err != nil || mk != k.MACKey {
		t.Fatalf("MACKey round trip: %v", err)
	}

	for _, bad := range []string{
		`{"mac":{"k":"QUJD","r":"gIOGCYyPkgWYm54BpKeqDQ=="},"encrypt":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}`,
		`{"mac":{"k":"QEFCQ0RFRkdISUpLTE1OTw==","r":"gIOGCYyPkgWYm54BpKeqDQ=="},"encrypt":"AQID"}`,
		`{"mac":{"k":"QEFCQ0RFRkdISUpLTE1OTw==","r":"gIOGCYyPkgWYm54BpKeqDQ=="}}`,
		`{"encrypt":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}`,
		`{}`,
	} {
		var k Key
		if err := json.Unmarshal([]byte(bad), &k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: %v, want ErrInvalidKey", bad, err)
		}
	}
	for _, bad := range []string{`[1,2]`, `{"mac":5}`, `{"encrypt":"!!"}`, `nul`} {
		var k Key
		if err := json.Unmarshal([]byte(bad), &k); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestCipherMatchesKey(t *testing.T) {
	k := NewRandomKey()
	c := k.Cipher()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, n := range []int{0, 1, 16, 17, 4096, 70000} {
				pt := pattern(n + g)
				if got, err := k.Open(nil, c.Seal(nil, pt)); err != nil || !bytes.Equal(got, pt) {
					t.Errorf("Cipher.Seal -> Key.Open, n=%d: %v", n, err)
				}
				sealed := k.Seal(nil, pt)
				if got, err := c.Open(nil, sealed); err != nil || !bytes.Equal(got, pt) {
					t.Errorf("Key.Seal -> Cipher.Open, n=%d: %v", n, err)
				}
				sealed[len(sealed)-1] ^= 0x80
				if _, err := c.Open(nil, sealed); err != ErrUnauthenticated {
					t.Errorf("Cipher.Open tampered, n=%d: %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	if _, err := NewRandomKey().Cipher().Open(nil, k.Seal(nil, []byte("x"))); err != ErrUnauthenticated {
		t.Fatalf("other key's Cipher: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Cipher of a zero key did not panic")
			}
		}()
		(&Key{}).Cipher()
	}()
}
