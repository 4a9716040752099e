//go:build !arcaprofile

package main

// startProfiles does nothing: profiles (ARCA_CPUPROFILE, ARCA_MEMPROFILE,
// ARCA_TRACE) need a binary built with `-tags arcaprofile` (see
// profile.go).
func startProfiles() (stop func()) { return func() {} }
