//go:build !amd64

package crypto

// haveVAES is false: only amd64 has the VAES counter mode; Cipher uses
// crypto/cipher's CTR instead.
const haveVAES = false

func expandKey256(*roundKeys, *[32]byte) {
	panic("crypto: VAES counter mode on a CPU without it")
}

func ctrBlocks(*roundKeys, []byte, []byte, int, *[2]uint64) {
	panic("crypto: VAES counter mode on a CPU without it")
}
