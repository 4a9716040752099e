package tags

import (
	"reflect"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

func TestEditApply(t *testing.T) {
	for _, c := range []struct {
		name    string
		tags    []string
		edit    Edit
		want    []string
		changed bool
	}{
		{"add new", []string{"a"}, Edit{Add: []string{"b", "a", "b"}}, []string{"a", "b"}, true},
		{"add present", []string{"a"}, Edit{Add: []string{"a"}}, []string{"a"}, false},
		{"remove moves the last tag into the gap", []string{"a", "b", "c", "d"}, Edit{Remove: []string{"b"}}, []string{"a", "d", "c"}, true},
		{"remove absent", []string{"a"}, Edit{Remove: []string{"x"}}, []string{"a"}, false},
		{"add then remove", nil, Edit{Add: []string{"x"}, Remove: []string{"x"}}, []string{}, true},
		{"set the same tags is a change", []string{"a"}, Edit{Set: []string{"a"}}, []string{"a"}, true},
		{"set replaces", []string{"a", "b"}, Edit{Set: []string{"c"}}, []string{"c"}, true},
		{"set one empty tag clears", []string{"a"}, Edit{Set: []string{""}}, nil, true},
	} {
		sn := &model.Snapshot{Tags: c.tags}
		changed := c.edit.Apply(sn)
		if changed != c.changed || !reflect.DeepEqual(sn.Tags, c.want) {
			t.Errorf("%s: tags %q changed=%v, want %q changed=%v", c.name, sn.Tags, changed, c.want, c.changed)
		}
	}
}
