// Package chunker splits data into content-defined chunks whose boundaries
// are identical to those of restic's Rabin-fingerprint chunker
// (github.com/restic/chunker v0.4.0) for every input and polynomial.
//
// A chunk ends at the first position p, at least MinSize and at most MaxSize
// bytes after the chunk start, at which the Rabin fingerprint of the 64 bytes
// ending at p has its low 20 bits clear; a chunk that finds no such position
// ends at MaxSize, and the last chunk ends at the end of the input.
//
// Two observations make this fast. First, whether p is a candidate depends
// only on the 64-byte window before p and not on where the chunk started, so
// the first MinSize-64 bytes of each chunk are never hashed, and a window can
// be hashed from scratch anywhere after 64 bytes of warm-up. Second, because
// of that, the region after MinSize is cut into several segments that are
// hashed in one interleaved loop, which breaks the per-byte dependency chain
// of the rolling hash (table lookup, shift, xor) that bounds a serial loop.
// On amd64 that loop is written in assembly; elsewhere a Go version is used.
// Where the CPU has AVX-512 and GFNI, 64 segments are hashed at once: both
// tables are linear over GF(2), so a digest kept byte by byte across 64
// lanes is updated with 8x8 bit-matrix multiplications instead of lookups
// (lanes64.go).
//
// Chunker offers restic's streaming API (New, Reset, Next). Table.Cuts and
// Table.CutsParallel find chunk boundaries in a caller-owned buffer without
// copying it.
package chunker
