//go:build !amd64

package crypto

import "golang.org/x/crypto/poly1305"

// poly1305Sum is golang.org/x/crypto/poly1305.Sum: only amd64 has a
// vectorised Poly1305 here.
func poly1305Sum(tag *[16]byte, msg []byte, key *[32]byte) {
	poly1305.Sum(tag, msg, key)
}
