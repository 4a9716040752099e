// Package transport builds the http.RoundTripper that HTTP-based backends
// (REST, S3) share, from restic's TLS and HTTP options.
//
// The transport trusts the system's root certificates unless --cacert files
// are given (then only those), may present a client certificate read from
// one PEM file holding certificate and key (--tls-client-cert), may skip
// verification (--insecure-tls), and sets the User-Agent header when one is
// configured (--http-user-agent). Timeouts bound connection set-up and idle
// connections; a transfer that stalls is the retry wrapper's business
// (--stuck-request-timeout), so no overall request timeout is set here.
package transport

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Options are the TLS and HTTP settings of restic's global flags.
type Options struct {
	// RootCertFiles are PEM files with the root certificates to trust
	// (--cacert). When empty, the system's roots are used.
	RootCertFiles []string
	// ClientCertKeyFile is one PEM file with a client certificate (chain)
	// and its private key (--tls-client-cert).
	ClientCertKeyFile string
	// InsecureTLS skips verification of the server's certificate (--insecure-tls).
	InsecureTLS bool
	// UserAgent replaces Go's User-Agent header when not empty (--http-user-agent).
	UserAgent string
}

// Timeouts of the transport. They bound how long setting up a connection
// may take, not how long a transfer may run.
const (
	DialTimeout         = 30 * time.Second
	KeepAlive           = 30 * time.Second
	TLSHandshakeTimeout = 10 * time.Second
	IdleConnTimeout     = 90 * time.Second
	// HTTP/2 connections that stop answering are detected by pings.
	http2SendPingTimeout  = 60 * time.Second
	http2PingTimeout      = 60 * time.Second
	http2WriteByteTimeout = 120 * time.Second
)

// New returns a transport configured by opts. It fails when a certificate
// file cannot be read or parsed.
func New(opts Options) (http.RoundTripper, error) {
	tlsConfig, err := opts.tlsConfig()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   DialTimeout,
			KeepAlive: KeepAlive,
		}).DialContext,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       IdleConnTimeout,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConfig,
		// A custom TLS config turns off HTTP/2 unless asked for.
		ForceAttemptHTTP2: true,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout:  http2SendPingTimeout,
			PingTimeout:      http2PingTimeout,
			WriteByteTimeout: http2WriteByteTimeout,
		},
	}
	if opts.UserAgent == "" {
		return tr, nil
	}
	return &userAgent{next: tr, agent: opts.UserAgent}, nil
}

func (opts Options) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: opts.InsecureTLS} //nolint:gosec // the user asked for it
	if len(opts.RootCertFiles) > 0 {
		pool, err := loadRoots(opts.RootCertFiles)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if opts.ClientCertKeyFile != "" {
		cert, err := loadClientCert(opts.ClientCertKeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadRoots reads root certificates from PEM files; every file must hold at
// least one certificate.
func loadRoots(files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, name := range files {
		if name == "" {
			return nil, errors.New("empty filename for root certificate supplied")
		}
		buf, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("unable to read root certificate: %w", err)
		}
		if !pool.AppendCertsFromPEM(buf) {
			return nil, fmt.Errorf("cannot parse root certificate from %q", name)
		}
	}
	return pool, nil
}

// loadClientCert reads a file holding PEM certificate blocks and exactly one
// PEM private key.
func loadClientCert(name string) (tls.Certificate, error) {
	buf, err := os.ReadFile(name)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read TLS client certificate: %w", err)
	}
	var certs, key []byte
	for {
		var block *pem.Block
		block, buf = pem.Decode(buf)
		if block == nil {
			break
		}
		switch {
		case strings.HasSuffix(block.Type, "CERTIFICATE"):
			certs = append(certs, pem.EncodeToMemory(block)...)
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			if key != nil {
				return tls.Certificate{}, fmt.Errorf("error loading TLS cert and key from %v: more than one private key found", name)
			}
			key = pem.EncodeToMemory(block)
		default:
			return tls.Certificate{}, fmt.Errorf("error loading TLS cert and key from %v: unknown block type %v found", name, block.Type)
		}
	}
	cert, err := tls.X509KeyPair(certs, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse TLS client cert or key: %w", err)
	}
	return cert, nil
}

// userAgent sets the User-Agent header of every request.
type userAgent struct {
	next  http.RoundTripper
	agent string
}

func (u *userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", u.agent)
	return u.next.RoundTrip(req)
}

// CloseIdleConnections closes idle connections of the wrapped transport,
// so http.Client.CloseIdleConnections reaches it.
func (u *userAgent) CloseIdleConnections() {
	if c, ok := u.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
