// Package crypto implements the cryptography of the restic repository format.
//
// Every file in a repository except key files is sealed with a master Key:
// a random 16-byte IV, the payload encrypted with AES-256 in counter mode
// (the IV is the initial counter block), and a 16-byte Poly1305-AES tag over
// the encrypted payload. The Poly1305 one-time key is built from the MAC key's
// R half and the AES-128 encryption of the IV under the MAC key's K half, so
// the IV authenticates implicitly. Open checks the tag in constant time before
// anything is decrypted. On amd64 CPUs that have them, counter mode runs
// four blocks per VAES instruction (ctr.go) and Poly1305 over long messages
// in AVX-512 (with IFMA's 52-bit multiply-adds where present) or AVX2
// lanes (poly1305_amd64.go); elsewhere the standard library's AES and
// golang.org/x/crypto's Poly1305 do the work.
//
// The master key is stored in key files (keys/<id>): plain JSON carrying the
// scrypt parameters and salt, with the master key's own JSON sealed under a
// Key derived from the user's password. KeyFile reads and writes that format
// exactly as restic does, so either program can open the other's keys.
//
// scrypt is arca's own (the result is golang.org/x/crypto's, arranged to
// be faster at start-up: see scryptKey; with p above 1 and several CPUs
// its lanes run side by side in the memory one lane takes, trading a
// little recomputation for it: see roMixLanes). Calibrate chooses the
// parameters restic would on this machine when idle, timed with restic's
// own scrypt, so keys are as strong as restic's and open faster in arca.
package crypto
