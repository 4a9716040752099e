// Package feature holds restic's feature flags: the list restic 0.19.1
// knows, with their stage (alpha, beta, stable, deprecated) and default,
// and the parsing of a RESTIC_FEATURES value ("name=bool,name,…") into the
// set of enabled flags. Alpha and beta flags can be switched; stable flags
// are always on and deprecated ones always off, and naming either only
// earns a warning. An unknown name or a value that is not a boolean is an
// error.
package feature

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Stage is how far a feature is in its life.
type Stage string

// The stages, as restic names them.
const (
	Alpha      Stage = "alpha"      // off by default, may change or go away
	Beta       Stage = "beta"       // on by default, may still change
	Stable     Stage = "stable"     // always on; the flag will be removed
	Deprecated Stage = "deprecated" // always off; the flag will be removed
)

// Default reports whether a flag of stage s is on when not set.
func (s Stage) Default() bool { return s == Beta || s == Stable }

// switchable reports whether RESTIC_FEATURES can change a flag of stage s.
func (s Stage) switchable() bool { return s == Alpha || s == Beta }

// Name is a feature flag's name (kebab-case).
type Name string

// The feature flags of restic 0.19.1.
const (
	BackendErrorRedesign    Name = "backend-error-redesign"
	DeprecateLegacyIndex    Name = "deprecate-legacy-index"
	DeprecateS3LegacyLayout Name = "deprecate-s3-legacy-layout"
	DeviceIDForHardlinks    Name = "device-id-for-hardlinks"
	ExplicitS3AnonymousAuth Name = "explicit-s3-anonymous-auth"
	SafeForgetKeepTags      Name = "safe-forget-keep-tags"
	S3Restore               Name = "s3-restore"
)

// Flag describes one feature flag.
type Flag struct {
	Name        Name
	Stage       Stage
	Description string
}

// Flags returns every known flag, sorted by name.
func Flags() []Flag {
	flags := []Flag{
		{BackendErrorRedesign, Beta, "enforce timeouts for stuck HTTP requests and use new backend error handling design."},
		{DeprecateLegacyIndex, Stable, "disable support for index format used by restic 0.1.0. Use `restic repair index` to update the index if necessary."},
		{DeprecateS3LegacyLayout, Stable, "disable support for S3 legacy layout used up to restic 0.7.0. Use restic 0.17.3 to migrate if necessary."},
		{DeviceIDForHardlinks, Alpha, "store deviceID only for hardlinks to reduce metadata changes for example when using btrfs subvolumes. Will be removed in a future restic version after repository format 3 is available"},
		{ExplicitS3AnonymousAuth, Stable, "forbid anonymous S3 authentication unless `-o s3.unsafe-anonymous-auth=true` is set"},
		{SafeForgetKeepTags, Stable, "prevent deleting all snapshots if the tag passed to `forget --keep-tags tagname` does not exist"},
		{S3Restore, Alpha, "restore S3 objects from cold storage classes when `-o s3.enable-restore=true` is set"},
	}
	slices.SortFunc(flags, func(a, b Flag) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return flags
}

// Set is the state of every flag for one run.
type Set struct {
	enabled map[Name]bool
}

// Defaults returns the set with every flag at its default.
func Defaults() *Set {
	s := &Set{enabled: map[Name]bool{}}
	for _, f := range Flags() {
		s.enabled[f.Name] = f.Stage.Default()
	}
	return s
}

// Enabled reports whether flag n is on; it panics for a name not in Flags,
// which is a programming error.
func (s *Set) Enabled(n Name) bool {
	on, ok := s.enabled[n]
	if !ok {
		panic(fmt.Sprintf("unknown feature flag %v", n))
	}
	return on
}

// Parse reads a RESTIC_FEATURES value: comma-separated entries "name" (on)
// or "name=value", value being anything strconv.ParseBool takes; a later
// entry for the same name wins. Naming a stable or deprecated flag calls
// warn with a message (the flag keeps its fixed state). The first entry
// with a value that is not a boolean, or else the first unknown name, is
// the error. An empty value gives the defaults.
func Parse(value string, warn func(msg string)) (*Set, error) {
	s := Defaults()
	if value == "" {
		return s, nil
	}
	var order []string
	selection := map[string]bool{}
	for _, entry := range strings.Split(value, ",") {
		name, val, hasVal := strings.Cut(entry, "=")
		if !hasVal {
			val = "true"
		}
		on, err := strconv.ParseBool(val)
		if err != nil {
			return nil, fmt.Errorf("failed to parse value %q for feature flag %v: %w", val, name, err)
		}
		if _, seen := selection[name]; !seen {
			order = append(order, name)
		}
		selection[name] = on
	}
	stages := map[Name]Stage{}
	for _, f := range Flags() {
		stages[f.Name] = f.Stage
	}
	for _, name := range order {
		n := Name(name)
		stage, ok := stages[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("unknown feature flag %q", name)
		case stage.switchable():
			s.enabled[n] = selection[name]
		case stage == Stable:
			warn(fmt.Sprintf("feature flag %q is always enabled and will be removed in a future release", name))
		default:
			warn(fmt.Sprintf("feature flag %q is always disabled and will be removed in a future release", name))
		}
	}
	return s, nil
}
