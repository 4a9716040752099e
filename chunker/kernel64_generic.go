//go:build !amd64

package chunker

const haveLanes64 = false

func transpose64(src *byte, stride int, blocks int, dst *byte, scratch *[4096]byte) {
	panic("unreachable")
}

func hash64(v *vecTable, buf *byte, groups int, planes *[7][64]byte, mask uint64) (int, uint64) {
	panic("unreachable")
}
