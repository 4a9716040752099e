package crypto

import (
	"crypto/cipher"
	"io"
)

// OpenReader verifies the MAC of ciphertext (IV || ciphertext || MAC, as
// made by Seal) and, only if it is correct, returns a reader that
// decrypts it piece by piece into the caller's buffers. Unlike Open it
// needs no buffer for the whole plaintext: checking a freshly sealed blob
// against the data it came from costs no memory of the blob's size. It
// fails like Open. ciphertext must not change while the reader is used.
func (c *Cipher) OpenReader(ciphertext []byte) (io.Reader, error) {
	iv, ct, err := c.authenticate(ciphertext)
	if err != nil {
		return nil, err
	}
	return &openReader{stream: c.newCTR(iv), ct: ct}, nil
}

// openReader decrypts an authenticated ciphertext as it is read.
type openReader struct {
	stream cipher.Stream
	ct     []byte // not yet decrypted
}

func (r *openReader) Read(p []byte) (int, error) {
	if len(r.ct) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.ct))
	r.stream.XORKeyStream(p[:n], r.ct[:n])
	r.ct = r.ct[n:]
	return n, nil
}
