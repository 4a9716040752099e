package forget

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/arca-backup/arca/repo/model"
)

// Unlimited is the count that keeps every bucket of its kind.
const Unlimited = -1

// Policy says which snapshots to keep. Counts are numbers of buckets (0:
// rule off, Unlimited: every bucket); durations are measured back from the
// newest snapshot that is not in the future.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int

	Within                                                               Duration
	WithinHourly, WithinDaily, WithinWeekly, WithinMonthly, WithinYearly Duration

	// Tags keeps every snapshot that has all tags of at least one list.
	Tags [][]string
}

// Empty reports whether the policy has no rule at all (it would remove
// everything).
func (p Policy) Empty() bool {
	return len(p.Tags) == 0 &&
		p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 &&
		p.Within.Zero() && p.WithinHourly.Zero() && p.WithinDaily.Zero() && p.WithinWeekly.Zero() &&
		p.WithinMonthly.Zero() && p.WithinYearly.Zero()
}

// String describes the policy in restic's words, e.g. "keep 3 daily
// snapshots, all monthly snapshots and all snapshots within 1y of the
// newest" ("remove" for the empty policy).
func (p Policy) String() string {
	var counts, withins []string
	for _, c := range []struct {
		n    int
		name string
	}{{p.Last, "latest"}, {p.Hourly, "hourly"}, {p.Daily, "daily"}, {p.Weekly, "weekly"}, {p.Monthly, "monthly"}, {p.Yearly, "yearly"}} {
		switch {
		case c.n > 0:
			counts = append(counts, fmt.Sprintf("%d %s", c.n, c.name))
		case c.n == Unlimited:
			counts = append(counts, "all "+c.name)
		}
	}
	for _, w := range p.withinRules() {
		if !w.within.Zero() {
			withins = append(withins, fmt.Sprintf("%s snapshots within %v", w.kind.name, w.within))
		}
	}
	var s string
	if len(counts) > 0 {
		s = strings.Join(counts, ", ") + " snapshots"
	}
	if len(withins) > 0 {
		if s != "" {
			s += ", "
		}
		s += strings.Join(withins, ", ")
	}
	if len(p.Tags) > 0 {
		if s != "" {
			s += " and "
		}
		lists := make([]string, len(p.Tags))
		for i, l := range p.Tags {
			lists[i] = formatTagList(l)
		}
		s += "all snapshots with tags [" + strings.Join(lists, " ") + "]"
	}
	if !p.Within.Zero() {
		if s != "" {
			s += " and "
		}
		s += fmt.Sprintf("all snapshots within %v of the newest", p.Within)
	}
	if s == "" {
		return "remove"
	}
	return "keep " + s
}

// formatTagList prints a tag list as restic does: "[a, b]".
func formatTagList(l []string) string { return "[" + strings.Join(l, ", ") + "]" }

// bucketKind is a way of putting snapshots into buckets by their time.
type bucketKind struct {
	name string
	// value returns the bucket of a snapshot taken at t, which is the
	// nr-th snapshot (newest first) of its group.
	value func(t time.Time, nr int) int
}

var (
	lastKind    = bucketKind{"last", func(_ time.Time, nr int) int { return nr }}
	hourlyKind  = bucketKind{"hourly", func(t time.Time, _ int) int { return ((t.Year()*100+int(t.Month()))*100+t.Day())*100 + t.Hour() }}
	dailyKind   = bucketKind{"daily", func(t time.Time, _ int) int { return (t.Year()*100+int(t.Month()))*100 + t.Day() }}
	weeklyKind  = bucketKind{"weekly", func(t time.Time, _ int) int { y, w := t.ISOWeek(); return y*100 + w }}
	monthlyKind = bucketKind{"monthly", func(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }}
	yearlyKind  = bucketKind{"yearly", func(t time.Time, _ int) int { return t.Year() }}
)

type countRule struct {
	kind  bucketKind
	count int
}

func (p Policy) countRules() []countRule {
	return []countRule{
		{lastKind, p.Last}, {hourlyKind, p.Hourly}, {dailyKind, p.Daily},
		{weeklyKind, p.Weekly}, {monthlyKind, p.Monthly}, {yearlyKind, p.Yearly},
	}
}

type withinRule struct {
	kind   bucketKind
	within Duration
}

func (p Policy) withinRules() []withinRule {
	return []withinRule{
		{hourlyKind, p.WithinHourly}, {dailyKind, p.WithinDaily}, {weeklyKind, p.WithinWeekly},
		{monthlyKind, p.WithinMonthly}, {yearlyKind, p.WithinYearly},
	}
}

// Counters are the bucket counts a policy had left after a snapshot was
// evaluated (Unlimited stays Unlimited).
type Counters struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
}

// Reason says why a snapshot is kept.
type Reason struct {
	Snapshot *model.Snapshot
	// Matches names the rules that kept it, in restic's words ("last
	// snapshot", "daily snapshot", "oldest monthly snapshot", "within 1y",
	// "daily within 30d", "has tags [a, b]").
	Matches  []string
	Counters Counters
}

// Result is the outcome of a policy for one group. Keep and Remove are
// newest first; Reasons[i] belongs to Keep[i].
type Result struct {
	Keep    []*model.Snapshot
	Remove  []*model.Snapshot
	Reasons []Reason
}

// Apply evaluates p over one group of snapshots. now bounds the newest
// snapshot that durations are measured from (snapshots after now are
// ignored for that). Snapshots with equal times keep their order in list.
// list is not modified.
func Apply(list []*model.Snapshot, p Policy, now time.Time) Result {
	sorted := slices.Clone(list)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) })
	var res Result
	if len(sorted) == 0 {
		return res
	}

	var newest time.Time
	for _, sn := range sorted {
		if sn.Time.After(newest) && sn.Time.Before(now) {
			newest = sn.Time
		}
	}

	counts := p.countRules()
	withins := p.withinRules()
	// the bucket of the snapshot each rule kept last; none yet
	const noBucket = -1
	lastCount := make([]int, len(counts))
	lastWithin := make([]int, len(withins))
	for i := range lastCount {
		lastCount[i] = noBucket
	}
	for i := range lastWithin {
		lastWithin[i] = noBucket
	}

	oldest := len(sorted) - 1
	for nr, sn := range sorted {
		var matches []string
		for _, l := range p.Tags {
			if sn.HasTags(l) {
				matches = append(matches, "has tags "+formatTagList(l))
			}
		}
		if !p.Within.Zero() && sn.Time.After(p.Within.Before(newest)) {
			matches = append(matches, fmt.Sprintf("within %v", p.Within))
		}
		for i := range counts {
			r := &counts[i]
			if r.count == 0 || r.count < Unlimited {
				continue
			}
			b := r.kind.value(sn.Time, nr)
			if b == lastCount[i] && nr != oldest {
				continue
			}
			reason := r.kind.name + " snapshot"
			if b == lastCount[i] {
				reason = "oldest " + reason
			}
			lastCount[i] = b
			if r.count > 0 {
				r.count--
			}
			matches = append(matches, reason)
		}
		for i, w := range withins {
			if w.within.Zero() || !sn.Time.After(w.within.Before(newest)) {
				continue
			}
			b := w.kind.value(sn.Time, nr)
			if b == lastWithin[i] && nr != oldest {
				continue
			}
			reason := w.kind.name + " within"
			if b == lastWithin[i] {
				reason = "oldest " + reason
			}
			lastWithin[i] = b
			matches = append(matches, fmt.Sprintf("%s %v", reason, w.within))
		}

		if len(matches) == 0 {
			res.Remove = append(res.Remove, sn)
			continue
		}
		res.Keep = append(res.Keep, sn)
		res.Reasons = append(res.Reasons, Reason{
			Snapshot: sn,
			Matches:  matches,
			Counters: Counters{
				Last: counts[0].count, Hourly: counts[1].count, Daily: counts[2].count,
				Weekly: counts[3].count, Monthly: counts[4].count, Yearly: counts[5].count,
			},
		})
	}
	return res
}
