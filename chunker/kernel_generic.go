//go:build !amd64

package chunker

const haveLanes8 = false

const laneStride = 8192

func warm8(t *Table, p *byte, d *[8]uint64) { panic("unreachable") }

func scanLanes8(t *Table, p *byte, j, n int, d *[8]uint64, mask uint64) int {
	panic("unreachable")
}
