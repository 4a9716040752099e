package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startTLSS3 starts a versitygw instance of its own that serves HTTPS with
// a generated CA, for this test only, and returns start-s3.sh's settings.
// Like the other S3 tests it runs only where S3_ENDPOINT says S3 tests are
// wanted.
func startTLSS3(t *testing.T) map[string]string {
	t.Helper()
	vars := startPrivateServer(t, "s3", "S3_TLS=1")
	if !strings.HasPrefix(vars["S3_ENDPOINT"], "https://") || vars["S3_CA_CERT"] == "" {
		t.Fatalf("start-s3.sh with S3_TLS=1 printed %v", vars)
	}
	return vars
}

// TestS3OverTLS: with --cacert arca uses an S3 server whose certificate
// only that CA vouches for, restic accepts what it wrote, and without the
// option the connection is refused.
func TestS3OverTLS(t *testing.T) {
	s3 := startTLSS3(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"} {
		t.Setenv(k, s3[k])
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "") // the shared server's, not this one's
	repo := fmt.Sprintf("s3:%s/%s/tls-repo", s3["S3_ENDPOINT"], s3["S3_BUCKET"])
	t.Setenv("RESTIC_PASSWORD", "tls-test-pw")
	t.Setenv("RESTIC_CACHE_DIR", t.TempDir())
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "file"), bytes.Repeat([]byte("over tls\n"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := []string{"-r", repo, "--cacert", s3["S3_CA_CERT"]}
	for _, args := range [][]string{{"init"}, {"backup", src}} {
		if out, stderr, code := arcaCmd(t, append(ca, args...)...); code != 0 {
			t.Fatalf("arca %v over TLS: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	// (the config's stat is retried, as restic retries it: briefly here)
	t.Setenv("ARCA_RETRY_MAX_ELAPSED", "2s")
	if _, stderr, code := arcaCmd(t, "-r", repo, "snapshots"); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Errorf("without --cacert: exit %d\n%s", code, stderr)
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + s3["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + s3["AWS_SECRET_ACCESS_KEY"],
		"AWS_DEFAULT_REGION=" + s3["AWS_DEFAULT_REGION"], "RESTIC_PASSWORD=tls-test-pw"}
	out := mustRestic(t, env, append(ca, "check", "--read-data")...)
	if !strings.Contains(string(out), "no errors were found") {
		t.Fatalf("restic check over TLS:\n%s", out)
	}
	target := t.TempDir()
	mustRestic(t, env, append(ca, "restore", "latest", "--target", target)...)
	compareTrees(t, src, filepath.Join(target, src), compareOptions{IgnoreRootMeta: true})
}
