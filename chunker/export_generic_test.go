//go:build !amd64

package chunker

func hasBMI2Flag() bool { return false }
func setBMI2(bool)      {}

func lanes64Flag() bool { return false }
func setLanes64(bool)   {}
