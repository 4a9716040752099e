package forget

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// snap makes a snapshot at t whose ID is derived from name.
func snap(name string, t time.Time, tags ...string) *model.Snapshot {
	return &model.Snapshot{ID: model.Hash([]byte(name)), Time: t, Tags: tags, Hostname: "h", Paths: []string{"/p"}}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var farFuture = at("2100-01-01T00:00:00Z")

// kept returns, for each kept snapshot (newest first), its name and
// matches as "name: m1; m2".
func kept(t *testing.T, names map[model.ID]string, res Result) []string {
	t.Helper()
	if len(res.Keep) != len(res.Reasons) {
		t.Fatalf("%d kept snapshots but %d reasons", len(res.Keep), len(res.Reasons))
	}
	var out []string
	for i, sn := range res.Keep {
		if res.Reasons[i].Snapshot != sn {
			t.Fatalf("reason %d belongs to another snapshot", i)
		}
		out = append(out, names[sn.ID]+": "+strings.Join(res.Reasons[i].Matches, "; "))
	}
	return out
}

func namesOf(list []*model.Snapshot) []string {
	var out []string
	for _, sn := range list {
		out = append(out, sn.Tags[0])
	}
	return out
}

// history builds snapshots named by their times (the name is also the
// first tag, to find it again).
func history(times ...string) ([]*model.Snapshot, map[model.ID]string) {
	names := map[model.ID]string{}
	var list []*model.Snapshot
	for _, ts := range times {
		sn := snap(ts, at(ts), ts)
		names[sn.ID] = ts
		list = append(list, sn)
	}
	return list, names
}

func check(t *testing.T, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestApplyKeepLastCountsDown(t *testing.T) {
	list, names := history("2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-05T00:00:00Z", "2024-01-04T00:00:00Z")
	res := Apply(list, Policy{Last: 3}, farFuture)
	check(t, kept(t, names, res), []string{
		"2024-01-05T00:00:00Z: last snapshot",
		"2024-01-04T00:00:00Z: last snapshot",
		"2024-01-03T00:00:00Z: last snapshot",
	})
	check(t, namesOf(res.Remove), []string{"2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"})
	var counters []int
	for _, r := range res.Reasons {
		counters = append(counters, r.Counters.Last)
	}
	if !reflect.DeepEqual(counters, []int{2, 1, 0}) {
		t.Errorf("last counters %v, want [2 1 0]", counters)
	}
	if list[0].Tags[0] != "2024-01-01T00:00:00Z" {
		t.Error("Apply reordered its input")
	}
}

func TestApplyDailyKeepsNewestOfEachDayAndTheOldest(t *testing.T) {
	list, names := history("2024-01-01T08:00:00Z", "2024-01-01T12:00:00Z", "2024-01-02T10:00:00Z", "2024-01-02T11:00:00Z")
	check(t, kept(t, names, Apply(list, Policy{Daily: 5}, farFuture)), []string{
		"2024-01-02T11:00:00Z: daily snapshot",
		"2024-01-01T12:00:00Z: daily snapshot",
		"2024-01-01T08:00:00Z: oldest daily snapshot",
	})
	// no count left: the oldest is not kept
	check(t, kept(t, names, Apply(list, Policy{Daily: 2}, farFuture)), []string{
		"2024-01-02T11:00:00Z: daily snapshot",
		"2024-01-01T12:00:00Z: daily snapshot",
	})
	// the oldest in a bucket of its own is an ordinary daily snapshot
	list2, names2 := history("2024-01-01T08:00:00Z", "2024-01-02T12:00:00Z", "2024-01-02T13:00:00Z")
	check(t, kept(t, names2, Apply(list2, Policy{Daily: 5}, farFuture)), []string{
		"2024-01-02T13:00:00Z: daily snapshot",
		"2024-01-01T08:00:00Z: daily snapshot",
	})
}

func TestApplyUnlimitedAndCombinedBuckets(t *testing.T) {
	var times []string
	for m := 1; m <= 14; m++ {
		y, mm := 2023+(m-1)/12, (m-1)%12+1
		times = append(times, fmt.Sprintf("%d-%02d-03T10:00:00Z", y, mm), fmt.Sprintf("%d-%02d-20T10:00:00Z", y, mm))
	}
	list, names := history(times...)
	res := Apply(list, Policy{Monthly: Unlimited, Yearly: 1, Last: 1}, farFuture)
	got := kept(t, names, res)
	if len(got) != 15 {
		t.Fatalf("kept %d snapshots, want 15 (14 months and the oldest):\n%s", len(got), strings.Join(got, "\n"))
	}
	check(t, got[:2], []string{
		"2024-02-20T10:00:00Z: last snapshot; monthly snapshot; yearly snapshot",
		"2024-01-20T10:00:00Z: monthly snapshot",
	})
	check(t, got[13:], []string{
		"2023-01-20T10:00:00Z: monthly snapshot",
		"2023-01-03T10:00:00Z: oldest monthly snapshot",
	})
	for _, r := range res.Reasons {
		if r.Counters.Monthly != Unlimited || r.Counters.Yearly != 0 || r.Counters.Last != 0 {
			t.Fatalf("counters %+v, want monthly unlimited, yearly and last used up", r.Counters)
		}
	}
}

func TestApplyEmptyPolicyRemovesEverything(t *testing.T) {
	list, _ := history("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")
	p := Policy{Last: 0, Within: Duration{}}
	if !p.Empty() || p.String() != "remove" {
		t.Fatalf("zero policy: Empty=%v String=%q", p.Empty(), p.String())
	}
	res := Apply(list, p, farFuture)
	if len(res.Keep) != 0 || len(res.Remove) != 2 {
		t.Errorf("kept %d, removed %d", len(res.Keep), len(res.Remove))
	}
	if (Policy{Tags: [][]string{{""}}}).Empty() {
		t.Error("a policy with an empty tag list is not empty")
	}
	if res := Apply(nil, Policy{Last: 1}, farFuture); res.Keep != nil || res.Remove != nil {
		t.Errorf("empty list: %+v", res)
	}
}

func TestApplyEqualTimestampsKeepInputOrder(t *testing.T) {
	ts := at("2024-05-05T05:05:05Z")
	a, b, c := snap("a", ts, "a"), snap("b", ts, "b"), snap("c", ts.Add(-time.Hour), "c")
	names := map[model.ID]string{a.ID: "a", b.ID: "b", c.ID: "c"}
	check(t, kept(t, names, Apply([]*model.Snapshot{c, b, a}, Policy{Last: 1}, farFuture)), []string{"b: last snapshot"})
	check(t, kept(t, names, Apply([]*model.Snapshot{a, b, c}, Policy{Daily: 3}, farFuture)), []string{
		"a: daily snapshot",
		"c: oldest daily snapshot",
	})
}

func TestApplyWithinBoundaries(t *testing.T) {
	list, names := history(
		"2024-03-10T12:00:00Z", // newest
		"2024-03-09T12:00:01Z", // just inside 1d
		"2024-03-09T12:00:00Z", // exactly 1d before: outside (strictly after is required)
		"2024-02-10T12:00:01Z", // inside 1m, not 1d
		"2024-02-10T12:00:00Z",
	)
	check(t, kept(t, names, Apply(list, Policy{Within: Duration{Days: 1}}, farFuture)), []string{
		"2024-03-10T12:00:00Z: within 1d",
		"2024-03-09T12:00:01Z: within 1d",
	})
	check(t, kept(t, names, Apply(list, Policy{Within: Duration{Months: 1}}, farFuture)), []string{
		"2024-03-10T12:00:00Z: within 1m",
		"2024-03-09T12:00:01Z: within 1m",
		"2024-03-09T12:00:00Z: within 1m",
		"2024-02-10T12:00:01Z: within 1m",
	})
	// hours come after the calendar part: 1m1h
	check(t, kept(t, names, Apply(list, Policy{Within: Duration{Months: 1, Hours: 1}}, farFuture))[4:], []string{
		"2024-02-10T12:00:00Z: within 1m1h",
	})
	// a snapshot in the future does not move the reference point
	future := snap("future", at("2024-03-11T00:00:00Z"), "future")
	names[future.ID] = "future"
	check(t, kept(t, names, Apply(append(list, future), Policy{Within: Duration{Hours: 1}}, at("2024-03-10T18:00:00Z"))), []string{
		"future: within 1h",
		"2024-03-10T12:00:00Z: within 1h",
	})
}

func TestApplyWithinBuckets(t *testing.T) {
	list, names := history(
		"2024-03-10T12:00:00Z",
		"2024-03-10T08:00:00Z",
		"2024-03-09T23:00:00Z",
		"2024-03-09T22:00:00Z",
		"2024-01-01T00:00:00Z", // outside 30d
	)
	check(t, kept(t, names, Apply(list, Policy{WithinDaily: Duration{Days: 30}}, farFuture)), []string{
		"2024-03-10T12:00:00Z: daily within 30d",
		"2024-03-09T23:00:00Z: daily within 30d",
	})
	// the oldest inside the window is kept when it is also the oldest of the group
	check(t, kept(t, names, Apply(list[:4], Policy{WithinDaily: Duration{Days: 30}}, farFuture))[2:], []string{
		"2024-03-09T22:00:00Z: oldest daily within 30d",
	})
}

func TestApplyBucketsUseRecordedTimeZone(t *testing.T) {
	plus1 := time.FixedZone("", 3600)
	t0 := snap("t0", time.Date(2023, 12, 30, 12, 0, 0, 0, time.UTC), "t0")
	t1 := snap("t1", time.Date(2024, 1, 2, 0, 30, 0, 0, plus1), "t1") // 2024-01-01 23:30 UTC
	t2 := snap("t2", time.Date(2024, 1, 1, 23, 45, 0, 0, time.UTC), "t2")
	names := map[model.ID]string{t0.ID: "t0", t1.ID: "t1", t2.ID: "t2"}
	// t1 is on January 2nd where it was taken, so it is a day of its own
	check(t, kept(t, names, Apply([]*model.Snapshot{t0, t1, t2}, Policy{Daily: 2}, farFuture)), []string{
		"t2: daily snapshot",
		"t1: daily snapshot",
	})
}

func TestApplyISOWeeks(t *testing.T) {
	list, names := history("2020-12-31T10:00:00Z", "2021-01-03T10:00:00Z", "2021-01-04T10:00:00Z")
	// Thursday 2020-12-31 and Sunday 2021-01-03 are both in week 53 of 2020
	check(t, kept(t, names, Apply(list, Policy{Weekly: 2}, farFuture)), []string{
		"2021-01-04T10:00:00Z: weekly snapshot",
		"2021-01-03T10:00:00Z: weekly snapshot",
	})
	check(t, kept(t, names, Apply(list, Policy{Yearly: 5}, farFuture)), []string{
		"2021-01-04T10:00:00Z: yearly snapshot",
		"2020-12-31T10:00:00Z: yearly snapshot",
	})
}

func TestApplyKeepTags(t *testing.T) {
	a := snap("a", at("2024-01-03T00:00:00Z"), "x", "y")
	b := snap("b", at("2024-01-02T00:00:00Z"))
	c := snap("c", at("2024-01-01T00:00:00Z"), "x")
	names := map[model.ID]string{a.ID: "a", b.ID: "b", c.ID: "c"}
	p := Policy{Tags: [][]string{{"x", "y"}, {""}, {"x"}}}
	check(t, kept(t, names, Apply([]*model.Snapshot{a, b, c}, p, farFuture)), []string{
		"a: has tags [x, y]; has tags [x]",
		"b: has tags []",
		"c: has tags [x]",
	})
}

func TestPolicyString(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		want string
	}{
		{Policy{Last: 2}, "keep 2 latest snapshots"},
		{Policy{Last: Unlimited, Daily: 7, Yearly: Unlimited}, "keep all latest, 7 daily, all yearly snapshots"},
		{Policy{WithinDaily: Duration{Days: 7}, WithinYearly: Duration{Years: 2, Months: 1}}, "keep daily snapshots within 7d, yearly snapshots within 2y1m"},
		{Policy{Hourly: 1, WithinWeekly: Duration{Hours: 5}}, "keep 1 hourly snapshots, weekly snapshots within 5h"},
		{Policy{Tags: [][]string{{"a", "b"}, {"c"}}}, "keep all snapshots with tags [[a, b] [c]]"},
		{Policy{Monthly: 3, Tags: [][]string{{"a"}}, Within: Duration{Years: 1, Days: 2}}, "keep 3 monthly snapshots and all snapshots with tags [[a]] and all snapshots within 1y2d of the newest"},
		{Policy{Within: Duration{Hours: 3}}, "keep all snapshots within 3h of the newest"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Duration
		str  string
	}{
		{"1y2m3d4h", Duration{1, 2, 3, 4}, "1y2m3d4h"},
		{" 4h3d ", Duration{Days: 3, Hours: 4}, "3d4h"},
		{"5d2d", Duration{Days: 2}, "2d"},
		{"-2m", Duration{Months: -2}, "-2m"},
		{"", Duration{}, ""},
		{"0y", Duration{}, ""},
	} {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseDuration(%q) = %+v (%q), %v; want %+v (%q)", c.in, got, got.String(), err, c.want, c.str)
		}
	}
	for _, c := range []struct{ in, err string }{
		{"d", "no number found"},
		{"12", "no unit found after number 12"},
		{"3w", "invalid unit 'w' found after number 3"},
		{"1y-", "no number found"},
	} {
		if _, err := ParseDuration(c.in); err == nil || err.Error() != c.err {
			t.Errorf("ParseDuration(%q): error %v, want %q", c.in, err, c.err)
		}
	}
	if !(Duration{Days: 1, Hours: -1}).Negative() || (Duration{Days: 1}).Negative() {
		t.Error("Negative is wrong")
	}
}

func TestPlanGroupsAndRefusesToRemoveAll(t *testing.T) {
	a := snap("a", at("2024-01-03T00:00:00Z"), "x")
	b := snap("b", at("2024-01-02T00:00:00Z"))
	b.Hostname = "other"
	c := snap("c", at("2024-01-01T00:00:00Z"), "x")
	groups, err := Plan([]*model.Snapshot{a, b, c}, repo.GroupBy{Host: true}, Policy{Last: 1}, farFuture)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Key.Hostname != "h" || groups[1].Key.Hostname != "other" {
		t.Fatalf("groups %+v", groups)
	}
	if ids := RemovedIDs(groups); len(ids) != 1 || ids[0] != c.ID {
		t.Errorf("removed %v, want only c", ids)
	}

	groups, err = Plan([]*model.Snapshot{a, b, c}, repo.GroupBy{Host: true}, Policy{Tags: [][]string{{"x"}}}, farFuture)
	var ra *RemovesAllError
	if !errors.As(err, &ra) || ra.Key.Hostname != "other" || len(groups) != 1 {
		t.Fatalf("got %v with %d groups, want a refusal for host other after one group", err, len(groups))
	}
	if want := `refusing to delete last snapshot of snapshot group "host other"`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// the empty policy removes everything without refusing
	groups, err = Plan([]*model.Snapshot{a, b, c}, repo.GroupBy{}, Policy{}, farFuture)
	if err != nil || len(groups) != 1 || len(groups[0].Remove) != 3 {
		t.Errorf("empty policy: %v, %+v", err, groups)
	}
}
