package prune

import (
	"time"

	"github.com/arca-backup/arca/repo/model"
)

// Step is a phase of a prune run.
type Step int

// The phases, in the order they happen. Each is reported once when it
// begins, and only when it has work to do.
const (
	StepLoadSnapshots      Step = iota // "loading all snapshots..."
	StepFindUsed                       // "finding data that is still in use for N snapshots" (N: StepEvent.N)
	StepSearchPacks                    // "searching used packs..."
	StepCollect                        // "collecting packs for deletion and repacking"
	StepDeleteUnreferenced             // "deleting unreferenced packs"
	StepRepack                         // "repacking packs"
	StepDeleteIndex                    // "deleting index files" (unsafe recovery)
	StepRebuildIndex                   // "rebuilding index"
	StepRemovePacks                    // "removing N old packs" (N: StepEvent.N)
	StepDone                           // "done"
)

// StepEvent announces a phase.
type StepEvent struct {
	Step Step
	N    int
}

// Counter is the final state of one of restic's progress counters
// ("snapshots", "packs processed", "packs repacked", "files deleted",
// "indexes processed", "old indexes deleted").
type Counter struct {
	Name        string
	Done, Total uint64
	Elapsed     time.Duration
}

// Events receives a run's progress. Every field may be nil. Calls come
// from one goroutine at a time.
type Events struct {
	Step func(StepEvent)
	// Progress is called when a counter starts and as it advances, with
	// Done so far; Counter then reports its end.
	Progress func(Counter)
	// Counter is called when a counter finishes.
	Counter func(Counter)
	// Planned is called with the plan's statistics before anything is
	// changed (also for a dry run).
	Planned func(Stats)
	// Warning reports a problem restic prints on stderr (e.g. a pack that
	// could not be deleted, missing packs that are not needed).
	Warning func(msg string)
	// Info reports detail restic prints at verbosity level (1: -v, 2: -vv),
	// e.g. the packs a dry run would delete.
	Info func(level int, msg string)
	// Checkpoint is called at the named points of Execute (the
	// Checkpoint* constants); crash tests stop the process there.
	Checkpoint func(name string)
}

func (e *Events) step(s Step, n int) {
	if e != nil && e.Step != nil {
		e.Step(StepEvent{Step: s, N: n})
	}
}

func (e *Events) warn(msg string) {
	if e != nil && e.Warning != nil {
		e.Warning(msg)
	}
}

func (e *Events) info(level int, msg string) {
	if e != nil && e.Info != nil {
		e.Info(level, msg)
	}
}

// RunningCounter is one progress counter of Events: it reports its start
// and every step through Progress, and its end through Counter. Other
// packages that run part of a prune (repair packs) count with it too.
type RunningCounter struct {
	e     *Events
	name  string
	total uint64
	done  uint64
	start time.Time
}

// StartCounter starts the counter name of total items and reports it
// (e may be nil: nothing is reported).
func (e *Events) StartCounter(name string, total int) *RunningCounter {
	c := &RunningCounter{e: e, name: name, total: uint64(total), start: time.Now()}
	c.progress()
	return c
}

// Add counts n more items done.
func (c *RunningCounter) Add(n int) {
	c.done += uint64(n)
	c.progress()
}

func (c *RunningCounter) progress() {
	if c.e != nil && c.e.Progress != nil {
		c.e.Progress(c.state())
	}
}

// Finish reports the counter's end.
func (c *RunningCounter) Finish() {
	if c.e != nil && c.e.Counter != nil {
		c.e.Counter(c.state())
	}
}

func (c *RunningCounter) state() Counter {
	return Counter{Name: c.name, Done: c.done, Total: c.total, Elapsed: time.Since(c.start)}
}

// IDList formats pack IDs as restic prints an ID set: short IDs, sorted,
// in braces.
func IDList(ids model.IDSet) string {
	l := sortedIDs(ids)
	b := make([]byte, 0, 1+9*len(l))
	b = append(b, '{')
	for i, id := range l {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, id.Str()...)
	}
	return string(append(b, '}'))
}
