package chunker

const haveLanes8 = true

// laneStride is the distance between the eight lanes of the assembly
// kernel; it is a constant displacement in kernel_amd64.s.
const laneStride = 8192

// hasBMI2 selects the kernel that uses SHRX (one instruction instead of a
// move and a shift per byte and lane). Set once at package init.
var hasBMI2 = cpuidBMI2()

func cpuidBMI2() bool

// warm8 sets d[k] to the fingerprint of p[k·laneStride : k·laneStride+64].
//
//go:noescape
func warm8(t *Table, p *byte, d *[8]uint64)

// scan8 is scanLanesGeneric for eight lanes laneStride bytes apart.
//
//go:noescape
func scan8(t *Table, p *byte, j, n int, d *[8]uint64, mask uint64) int

// scan8BMI2 is scan8 using BMI2 instructions.
//
//go:noescape
func scan8BMI2(t *Table, p *byte, j, n int, d *[8]uint64, mask uint64) int

func scanLanes8(t *Table, p *byte, j, n int, d *[8]uint64, mask uint64) int {
	if hasBMI2 {
		return scan8BMI2(t, p, j, n, d, mask)
	}
	return scan8(t, p, j, n, d, mask)
}
