package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authority is a generated certificate authority.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newAuthority(t *testing.T, name string) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &authority{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate and its key, both PEM encoded.
func (a *authority) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, name string, parts ...[]byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	var buf []byte
	for _, part := range parts {
		buf = append(buf, part...)
	}
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// seen is what the test server observed about a request.
type seen struct {
	proto      int
	userAgent  string
	clientCert string
}

// startServer starts an HTTPS server (HTTP/2 enabled) with a certificate
// from ca; with clientCA it requires a client certificate issued by it.
func startServer(t *testing.T, ca *authority, clientCA *authority) (string, <-chan seen) {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan seen, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{proto: r.ProtoMajor, userAgent: r.UserAgent()}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			s.clientCert = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		ch <- s
		fmt.Fprint(w, "hello")
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.cert)
		srv.TLS.ClientCAs = pool
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func get(t *testing.T, rt http.RoundTripper, url string) error {
	t.Helper()
	client := &http.Client{Transport: rt, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if string(body) != "hello" {
		return fmt.Errorf("body %q", body)
	}
	return nil
}

func TestRootCertificates(t *testing.T) {
	ca := newAuthority(t, "arca test CA")
	other := newAuthority(t, "another CA")
	url, seenCh := startServer(t, ca, nil)

	// The system roots do not know the generated CA.
	rt, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = get(t, rt, url)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("request without --cacert: %v, want a certificate error", err)
	}

	// Only the other CA: still refused.
	rt, err = New(Options{RootCertFiles: []string{writeFile(t, "other.pem", other.pem)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, rt, url); err == nil {
		t.Fatalf("request trusting only an unrelated CA succeeded")
	}

	// Several files, one of them with the right CA.
	rt, err = New(Options{RootCertFiles: []string{writeFile(t, "other.pem", other.pem), writeFile(t, "ca.pem", ca.pem)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, rt, url); err != nil {
		t.Fatalf("request with the CA in the second --cacert file: %v", err)
	}
	if s := <-seenCh; s.proto != 2 {
		t.Errorf("request used HTTP/%d, want HTTP/2", s.proto)
	}

	// One file with both CAs.
	rt, err = New(Options{RootCertFiles: []string{writeFile(t, "both.pem", other.pem, ca.pem)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, rt, url); err != nil {
		t.Fatalf("request with a two-certificate --cacert file: %v", err)
	}
}

func TestRootCertificateErrors(t *testing.T) {
	garbage := writeFile(t, "garbage.pem", []byte("not a certificate\n"))
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{garbage}, "cannot parse root certificate from"},
		{[]string{filepath.Join(t.TempDir(), "missing.pem")}, "unable to read root certificate"},
		{[]string{""}, "empty filename for root certificate supplied"},
	} {
		_, err := New(Options{RootCertFiles: tc.files})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q): %v, want an error containing %q", tc.files, err, tc.want)
		}
	}
}

func TestInsecureTLS(t *testing.T) {
	ca := newAuthority(t, "arca test CA")
	url, _ := startServer(t, ca, nil)
	rt, err := New(Options{InsecureTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, rt, url); err != nil {
		t.Fatalf("request with --insecure-tls: %v", err)
	}
}

func TestClientCertificate(t *testing.T) {
	ca := newAuthority(t, "arca test CA")
	clientCA := newAuthority(t, "client CA")
	url, seenCh := startServer(t, ca, clientCA)
	caFile := writeFile(t, "ca.pem", ca.pem)

	rt, err := New(Options{RootCertFiles: []string{caFile}})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, rt, url); err == nil {
		t.Fatalf("request without a client certificate succeeded")
	}

	// Key before certificate in the file: order does not matter.
	certPEM, keyPEM := clientCA.issue(t, "arca client", x509.ExtKeyUsageClientAuth)
	rt, err = New(Options{RootCertFiles: []string{caFile}, ClientCertKeyFile: writeFile(t, "client.pem", keyPEM, certPEM)})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, rt, url); err != nil {
		t.Fatalf("request with a client certificate: %v", err)
	}
	if s := <-seenCh; s.clientCert != "arca client" {
		t.Errorf("server saw client certificate %q, want %q", s.clientCert, "arca client")
	}
}

func TestClientCertificateErrors(t *testing.T) {
	ca := newAuthority(t, "client CA")
	certPEM, keyPEM := ca.issue(t, "c", x509.ExtKeyUsageClientAuth)
	_, otherKey := ca.issue(t, "d", x509.ExtKeyUsageClientAuth)
	other := pem.EncodeToMemory(&pem.Block{Type: "SOMETHING ELSE", Bytes: []byte{1}})
	for _, tc := range []struct {
		name  string
		parts [][]byte
		want  string
	}{
		{"two-keys.pem", [][]byte{certPEM, keyPEM, keyPEM}, "more than one private key found"},
		{"odd-block.pem", [][]byte{certPEM, keyPEM, other}, "unknown block type SOMETHING ELSE found"},
		{"no-key.pem", [][]byte{certPEM}, "parse TLS client cert or key"},
		{"wrong-key.pem", [][]byte{certPEM, otherKey}, "parse TLS client cert or key"},
	} {
		_, err := New(Options{ClientCertKeyFile: writeFile(t, tc.name, tc.parts...)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Options{ClientCertKeyFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Errorf("a missing client certificate file gave no error")
	}
}

func TestUserAgent(t *testing.T) {
	ca := newAuthority(t, "arca test CA")
	url, seenCh := startServer(t, ca, nil)
	caFile := writeFile(t, "ca.pem", ca.pem)
	for _, agent := range []string{"", "arca-test/1.0"} {
		rt, err := New(Options{RootCertFiles: []string{caFile}, UserAgent: agent})
		if err != nil {
			t.Fatal(err)
		}
		if err := get(t, rt, url); err != nil {
			t.Fatal(err)
		}
		s := <-seenCh
		switch {
		case agent != "" && s.userAgent != agent:
			t.Errorf("User-Agent %q, want %q", s.userAgent, agent)
		case agent == "" && !strings.HasPrefix(s.userAgent, "Go-http-client/"):
			t.Errorf("User-Agent %q without --http-user-agent, want Go's default", s.userAgent)
		}
	}
}
