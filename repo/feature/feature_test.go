package feature

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		value    string
		on, off  []Name
		warnings []string
		err      string
	}{
		{value: "", on: []Name{BackendErrorRedesign, SafeForgetKeepTags}, off: []Name{DeviceIDForHardlinks, S3Restore}},
		{value: "s3-restore", on: []Name{S3Restore}, off: []Name{DeviceIDForHardlinks}},
		{value: "device-id-for-hardlinks=1,backend-error-redesign=f", on: []Name{DeviceIDForHardlinks}, off: []Name{BackendErrorRedesign}},
		{value: "s3-restore=true,s3-restore=false", off: []Name{S3Restore}},
		{value: "deprecate-legacy-index=false", on: []Name{DeprecateLegacyIndex},
			warnings: []string{`feature flag "deprecate-legacy-index" is always enabled and will be removed in a future release`}},
		{value: "safe-forget-keep-tags,explicit-s3-anonymous-auth=0", on: []Name{SafeForgetKeepTags, ExplicitS3AnonymousAuth},
			warnings: []string{
				`feature flag "safe-forget-keep-tags" is always enabled and will be removed in a future release`,
				`feature flag "explicit-s3-anonymous-auth" is always enabled and will be removed in a future release`,
			}},
		{value: "foo", err: `unknown feature flag "foo"`},
		{value: ",", err: `unknown feature flag ""`},
		{value: "=true", err: `unknown feature flag ""`},
		{value: "s3-restore=maybe", err: `failed to parse value "maybe" for feature flag s3-restore: strconv.ParseBool: parsing "maybe": invalid syntax`},
		// a bad value is found before an unknown name, wherever it stands
		{value: "foo,s3-restore=2", err: `failed to parse value "2" for feature flag s3-restore`},
	} {
		var warnings []string
		s, err := Parse(tc.value, func(m string) { warnings = append(warnings, m) })
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("Parse(%q): error %v, want %q", tc.value, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.value, err)
			continue
		}
		for _, n := range tc.on {
			if !s.Enabled(n) {
				t.Errorf("Parse(%q): %s is off, want on", tc.value, n)
			}
		}
		for _, n := range tc.off {
			if s.Enabled(n) {
				t.Errorf("Parse(%q): %s is on, want off", tc.value, n)
			}
		}
		if !slices.Equal(warnings, tc.warnings) {
			t.Errorf("Parse(%q): warnings %q, want %q", tc.value, warnings, tc.warnings)
		}
	}
}

func TestFlagsSortedWithDefaults(t *testing.T) {
	flags := Flags()
	if len(flags) != 7 {
		t.Fatalf("%d flags, want restic 0.19.1's 7", len(flags))
	}
	if !slices.IsSortedFunc(flags, func(a, b Flag) int { return strings.Compare(string(a.Name), string(b.Name)) }) {
		t.Errorf("flags are not sorted by name: %v", flags)
	}
	d := Defaults()
	for _, f := range flags {
		want := f.Stage == Beta || f.Stage == Stable
		if d.Enabled(f.Name) != want {
			t.Errorf("%s (%s): default %v, want %v", f.Name, f.Stage, d.Enabled(f.Name), want)
		}
	}
}
