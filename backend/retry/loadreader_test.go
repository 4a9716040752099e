package retry

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A local file loaded through the retry wrapper still tells its size, so
// backend.LoadAll can read it in one piece; other readers do not pretend to.
func TestLoadReaderPassesStat(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stuck atomic.Bool
	lr := &loadReader{progressReader: progressReader{rd: f, progress: func() {}, stuck: &stuck}}
	fi, err := lr.Stat()
	if err != nil || fi.Size() != 5 {
		t.Fatalf("Stat through the wrapper: %v, %v", fi, err)
	}
	lr = &loadReader{progressReader: progressReader{rd: strings.NewReader("x"), progress: func() {}, stuck: &stuck}}
	if _, err := lr.Stat(); err == nil {
		t.Fatal("Stat of a wrapped strings.Reader succeeded")
	}
}
