package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// countStored counts the files stored below dir: regular files named by
// an ID. A save writes a temporary file in the same directory first, and
// a kill can leave one behind; those are not counted (a kill "after an
// index file" that came while the index was still a temporary file would
// leave nothing for the next backup to reuse).
func countStored(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && isID(d.Name()) {
			n++
		}
		return nil
	})
	return n
}

// isID reports whether name is a file ID: 64 lower-case hex digits.
func isID(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range name {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// TestBackupSurvivesSIGKILL kills arca backups with SIGKILL at several
// moments: before any pack is stored, after some packs, after index files
// name some of them, and after random delays. After each kill restic check accepts the repository;
// then a backup without any unlock step completes, reuses the data an
// index file already named, and its snapshot restores exactly.
func TestBackupSurvivesSIGKILL(t *testing.T) {
	repo, env := backupRepo(t, 2)
	src := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	const files, fileSize = 12, 2 << 20
	for i := range files {
		buf := make([]byte, fileSize)
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// small packs and an index file per pack: many moments to kill at
	killEnv := append(env, "ARCA_INDEX_INTERVAL=1ms", "RESTIC_PACK_SIZE=4", "RESTIC_COMPRESSION=off")
	dataDir := filepath.Join(repo, "data")
	indexDir := filepath.Join(repo, "index")

	type moment struct {
		name  string
		ready func(start time.Time) bool
	}
	moments := []moment{
		{"at start", func(time.Time) bool { return true }},
		{"after the first pack", func(time.Time) bool { return countStored(dataDir) >= 1 }},
		{"after two index files", func(time.Time) bool { return countStored(indexDir) >= 2 }},
	}
	// and at arbitrary moments, each into a backup that has a new file to
	// store: random delays, from a seed the log shows, up to 1.5 times
	// what the backup killed after two index files took to get there (so
	// that they spread over a backup's run however fast this machine is)
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill delays from seed %d", seed)
	delays := rand.New(rand.NewPCG(seed, 1))
	var toIndex time.Duration // how long the third backup ran
	const newFiles, newFileSize = 4, 16 << 20
	for i := range newFiles {
		frac := 1.5 * delays.Float64()
		moments = append(moments, moment{fmt.Sprintf("after %.2f of that time with new%d", frac, i), func(start time.Time) bool {
			return time.Since(start) >= time.Duration(frac*float64(toIndex))
		}})
	}
	for i, m := range moments {
		if k := i - (len(moments) - newFiles); k >= 0 {
			buf := make([]byte, newFileSize)
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("new%d", k)), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := arcaProcess(t, killEnv, "backup", "--no-scan", src)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		start := time.Now()
		finished := false
	wait:
		for !m.ready(start) {
			select {
			case <-exited:
				finished = true
				break wait
			case <-time.After(5 * time.Millisecond):
			}
			if time.Since(start) > 2*time.Minute {
				_ = cmd.Process.Kill()
				t.Fatalf("%s: the moment never came", m.name)
			}
		}
		if i == 2 {
			toIndex = time.Since(start)
		}
		if finished {
			t.Logf("%s: the backup finished before it could be killed", m.name)
		} else {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
		// the killed backup's stale lock is left; check without locking
		out, stderr, code := runRestic(t, env, "check", "--no-lock")
		if code != 0 {
			t.Fatalf("killed %s: restic check: exit %d\n%s\n%s", m.name, code, out, stderr)
		}
		t.Logf("killed %s: %d packs, %d index files", m.name, countStored(dataDir), countStored(indexDir))
	}
	if countStored(indexDir) < 2 {
		t.Fatal("no index file was written before the last kill")
	}

	// the next backup needs no unlock and stores only what no index names
	out, stderr, code := runArcaEnv(t, map[string]string{"RESTIC_PACK_SIZE": "4"}, "backup", "--json", src)
	if code != 0 {
		t.Fatalf("backup after the kills: exit %d\n%s", code, stderr)
	}
	var summary struct {
		DataAdded  int64  `json:"data_added"`
		SnapshotID string `json:"snapshot_id"`
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"message_type":"summary"`) {
			if err := json.Unmarshal([]byte(line), &summary); err != nil {
				t.Fatal(err)
			}
		}
	}
	if summary.SnapshotID == "" {
		t.Fatalf("no summary in the output:\n%s", out)
	}
	if summary.DataAdded >= files*fileSize+newFiles*newFileSize {
		t.Errorf("the backup after the kills added %d bytes: nothing uploaded before was reused", summary.DataAdded)
	}
	// a kill during a write can leave the backend's temporary file
	// ("<name>-tmp-<random>", restic's pattern, which neither program
	// lists as a file of the repository); a lock is any other file
	var left []string
	for _, name := range listDir(t, filepath.Join(repo, "locks")) {
		if !strings.Contains(name, "-tmp-") {
			left = append(left, name)
		}
	}
	if len(left) != 0 {
		t.Errorf("locks left after the backup: %v", left)
	}
	mustRestic(t, env, "check", "--read-data")
	target := t.TempDir()
	mustRestic(t, env, "restore", summary.SnapshotID, "--target", target)
	compareTrees(t, src, filepath.Join(target, src), compareOptions{IgnoreRootMeta: true})
}
