// Package model holds the repository's data model: IDs, blob types,
// snapshots, trees and nodes, with JSON encodings that are byte-identical to
// restic's. Identical input must give identical JSON (and so identical IDs)
// in arca and restic, or deduplication between the two breaks.
package model
