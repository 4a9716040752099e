package repo

import (
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/lock"
)

// TestLockerConsistentBackend: on a backend that lists every completed
// write the lock check waits no delay unless one is set; elsewhere it
// waits restic's 200 ms.
func TestLockerConsistentBackend(t *testing.T) {
	for _, tc := range []struct {
		consistent bool
		delay      time.Duration
		want       time.Duration
	}{
		{true, 0, 0},
		{false, 0, lock.DefaultCheckDelay},
		{true, 30 * time.Millisecond, 30 * time.Millisecond},
	} {
		r := wtMemRepo(t, 2, mem.NewWithProperties(backend.Properties{Connections: 2, ConsistentList: tc.consistent}))
		l, err := r.Locker(lock.Options{CheckDelay: tc.delay})
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Options().CheckDelay; got != tc.want {
			t.Errorf("consistent %v, delay %v: check delay %v, want %v", tc.consistent, tc.delay, got, tc.want)
		}
	}
}
