package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSignedCert writes a self-signed certificate for 127.0.0.1 (its own
// CA) and its key to dir, and returns the two files.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "arca test REST server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestRESTOverTLS: a REST server (rclone serve restic, a private instance
// restarted with --cert/--key) serves HTTPS with a self-signed
// certificate. With --cacert arca initializes, backs up and restores
// exactly; restic accepts what it wrote (check --read-data); without the
// option arca refuses the certificate.
func TestRESTOverTLS(t *testing.T) {
	t.Parallel()
	resticBin(t)
	vars := startPrivateServer(t, "rest")
	srv := newServerProcess(t, "rest", vars)
	certFile, keyFile := selfSignedCert(t, t.TempDir())
	srv.kill(t)
	srv.restart(t, "--cert", certFile, "--key", keyFile)

	r := faultRepo{kind: "rest", loc: "rest:https://" + srv.addr + "/tls-repo",
		opts: []string{"--cacert", certFile}, dir: filepath.Join(vars["REST_ROOT"], "tls-repo")}
	cache := t.TempDir()
	r.mustArca(t, cache, "init")
	if err := cheapenKey(r.dir, faultPassword); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	makeRESTTree(t, src, 1)
	out := r.mustArca(t, cache, "backup", "--json", src)
	id, _ := summaryOf(t, out)["snapshot_id"].(string)

	plain := r
	plain.opts = nil
	if _, stderr, code := plain.arca(t, cache, nil, "snapshots"); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Errorf("without --cacert: exit %d\n%s", code, stderr)
	}
	r.resticCheck(t, "over TLS", "--read-data")
	target := t.TempDir()
	r.mustArca(t, cache, "restore", id, "--target", target)
	compareTrees(t, src, filepath.Join(target, src), compareOptions{IgnoreRootMeta: true})
}
