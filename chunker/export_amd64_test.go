package chunker

func hasBMI2Flag() bool { return hasBMI2 }
func setBMI2(v bool)    { hasBMI2 = v }
