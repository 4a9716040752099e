package chunker

func hasBMI2Flag() bool { return hasBMI2 }
func setBMI2(v bool)    { hasBMI2 = v }

func lanes64Flag() bool { return haveLanes64 }
func setLanes64(v bool) { haveLanes64 = v }
