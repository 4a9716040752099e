package lock

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestJSONBytes checks the exact bytes restic's json.Marshal of its Lock
// gives: field order, time format, uid/gid omitted when zero.
func TestJSONBytes(t *testing.T) {
	zone := time.FixedZone("", 2*3600)
	lk := Lock{
		Time:      time.Date(2024, 5, 1, 10, 0, 0, 123456789, zone),
		Exclusive: true,
		Hostname:  "host",
		Username:  "alice",
		PID:       1234,
		UID:       1000,
		GID:       100,
	}
	buf, err := lk.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2024-05-01T10:00:00.123456789+02:00","exclusive":true,"hostname":"host","username":"alice","pid":1234,"uid":1000,"gid":100}`
	if string(buf) != want {
		t.Fatalf("got  %s\nwant %s", buf, want)
	}

	lk = Lock{Time: time.Date(2026, 11, 25, 5, 21, 41, 158243000, time.UTC), Hostname: "vm", Username: "root", PID: 7}
	buf, _ = lk.Marshal()
	want = `{"time":"2026-11-25T05:21:41.158243Z","exclusive":false,"hostname":"vm","username":"root","pid":7}`
	if string(buf) != want {
		t.Fatalf("got  %s\nwant %s", buf, want)
	}
}

// TestDecodeResticJSON decodes what `restic cat lock` printed for a lock of
// restic 0.19.1 (its indented re-encoding of the stored JSON) and encodes it
// back identically.
func TestDecodeResticJSON(t *testing.T) {
	const restic = "{\n  \"time\": \"2026-11-25T05:21:41.158243861Z\",\n  \"exclusive\": false,\n  \"hostname\": \"vm\",\n  \"username\": \"root\",\n  \"pid\": 12086\n}"
	lk, err := Unmarshal([]byte(restic))
	if err != nil {
		t.Fatal(err)
	}
	if lk.PID != 12086 || lk.Hostname != "vm" || lk.Username != "root" || lk.Exclusive || lk.UID != 0 ||
		!lk.Time.Equal(time.Date(2026, 11, 25, 5, 21, 41, 158243861, time.UTC)) {
		t.Fatalf("decoded %+v", lk)
	}
	again, _ := json.MarshalIndent(lk, "", "  ")
	if string(again) != restic {
		t.Fatalf("re-encoded differently:\n%s", again)
	}
	if _, err := Unmarshal([]byte(`{"time":"2026-11-25T05:21:41+01:00","exclusive":true,"hostname":"h","username":"u","pid":1,"uid":5,"gid":6,"extra":1}`)); err != nil {
		t.Fatalf("restic-shaped JSON with unknown field: %v", err)
	}
}

// TestStructMatchesResticSource compares the exported fields of Lock (names,
// types, tags, order) with restic's struct definition, when its source is
// at hand.
func TestStructMatchesResticSource(t *testing.T) {
	path := "/work/restic-src/internal/restic/lock.go"
	if _, err := os.Stat(path); err != nil {
		t.Skip("restic source not available")
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	type field struct{ name, typ, tag string }
	var theirs []field
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Lock" {
			return true
		}
		for _, fl := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range fl.Names {
				if !name.IsExported() || fl.Tag == nil {
					continue
				}
				var typ bytes.Buffer
				switch x := fl.Type.(type) {
				case *ast.Ident:
					typ.WriteString(x.Name)
				case *ast.SelectorExpr:
					typ.WriteString(x.X.(*ast.Ident).Name + "." + x.Sel.Name)
				}
				tag := reflect.StructTag(strings.Trim(fl.Tag.Value, "`")).Get("json")
				theirs = append(theirs, field{name.Name, typ.String(), tag})
			}
		}
		return false
	})
	var ours []field
	rt := reflect.TypeFor[Lock]()
	for i := range rt.NumField() {
		sf := rt.Field(i)
		ours = append(ours, field{sf.Name, sf.Type.String(), sf.Tag.Get("json")})
	}
	if !reflect.DeepEqual(ours, theirs) {
		t.Fatalf("fields differ\nours:   %v\nrestic: %v", ours, theirs)
	}
}

// TestResticBinaryLock lets the real restic 0.19.1 hold a lock, reads it with
// `restic cat lock` and checks that our Lock decodes and re-encodes it
// identically.
func TestResticBinaryLock(t *testing.T) {
	bin := "/root/.cache/restic-test-servers/bin/restic-v0.19.1"
	if _, err := os.Stat(bin); err != nil || testing.Short() {
		t.Skip("restic binary not available")
	}
	repo := filepath.Join(t.TempDir(), "repo")
	env := append(os.Environ(), "RESTIC_PASSWORD=test", "RESTIC_REPOSITORY="+repo, "RESTIC_CACHE_DIR="+t.TempDir())
	run := func(args ...string) []byte {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
		return out
	}
	run("init", "-q")

	backup := exec.Command(bin, "backup", "-q", "--stdin")
	backup.Env = env
	stdin, err := backup.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = backup.Wait()
	}()

	var id string
	deadline := time.Now().Add(20 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		entries, _ := os.ReadDir(filepath.Join(repo, "locks"))
		for _, e := range entries {
			if len(e.Name()) == 64 { // not restic's temporary file
				id = e.Name()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("restic did not create a lock")
	}
	out := run("--no-lock", "cat", "lock", id)
	printed := strings.TrimRight(string(out), "\n")

	lk, err := Unmarshal([]byte(printed))
	if err != nil {
		t.Fatal(err)
	}
	if lk.PID != backup.Process.Pid {
		t.Errorf("pid %d, want %d", lk.PID, backup.Process.Pid)
	}
	me, err := identity()
	if err != nil {
		t.Fatal(err)
	}
	if lk.Hostname != me.Hostname || lk.Username != me.Username || lk.UID != me.UID || lk.GID != me.GID {
		t.Errorf("restic's identity %+v differs from ours %+v", lk, me)
	}
	again, _ := json.MarshalIndent(lk, "", "  ")
	if string(again) != printed {
		t.Fatalf("re-encoded differently:\nrestic: %s\nours:   %s", printed, again)
	}
}

// TestConflictMessage checks restic's "already locked" wording, as printed
// by restic 0.19.1.
func TestConflictMessage(t *testing.T) {
	e := &ConflictError{Locks: []Info{{
		ID:             "70f5312d7452b20b678cbd014755e57d8d0c4b0285be887cc919a8232867a2d6",
		Lock:           Lock{Time: time.Date(2026, 11, 25, 5, 21, 27, 0, time.UTC), Hostname: "vm", Username: "root", PID: 11900},
		AgeByTimestamp: 1524306321 * time.Nanosecond,
	}}}
	want := "repository is already locked by PID 11900 on vm by root (UID 0, GID 0)\n" +
		"lock was created at 2026-11-25 05:21:27 (1.524306321s ago)\n" +
		"storage ID 70f5312d"
	if e.Error() != want {
		t.Fatalf("got\n%s\nwant\n%s", e.Error(), want)
	}
	e.Locks[0].Lock.Exclusive = true
	e.Locks[0].Lock.UID, e.Locks[0].Lock.GID = 1000, 100
	if !strings.HasPrefix(e.Error(), "repository is already locked exclusively by PID 11900 on vm by root (UID 1000, GID 100)\n") {
		t.Fatalf("got %q", e.Error())
	}
}
