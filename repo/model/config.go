package model

import (
	"fmt"

	"github.com/arca-backup/arca/chunker"
)

// Repository format versions.
const (
	MinRepoVersion    = 1
	MaxRepoVersion    = 2
	StableRepoVersion = 2
)

// Config is the repository's config file (stored encrypted, never compressed).
type Config struct {
	Version           uint        `json:"version"`
	ID                string      `json:"id"`
	ChunkerPolynomial chunker.Pol `json:"chunker_polynomial"`
}

// Validate checks the fields restic checks when it opens a repository.
func (c Config) Validate() error {
	if c.Version < MinRepoVersion || c.Version > MaxRepoVersion {
		return fmt.Errorf("unsupported repository version %v", c.Version)
	}
	if c.ID == "" {
		return fmt.Errorf("config has no repository ID")
	}
	if !c.ChunkerPolynomial.Irreducible() {
		return fmt.Errorf("invalid chunker polynomial %v", c.ChunkerPolynomial)
	}
	return nil
}
