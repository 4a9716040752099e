package main

import (
	"net/http"

	"github.com/arca-backup/arca/backend/transport"
)

// httpTransport returns the HTTP transport for remote backends, built from
// --cacert, --tls-client-cert, --insecure-tls and --http-user-agent.
func (a *app) httpTransport() (http.RoundTripper, error) {
	rt, err := transport.New(transport.Options{
		RootCertFiles:     a.opts.CACerts,
		ClientCertKeyFile: a.opts.TLSClientCert,
		InsecureTLS:       a.opts.InsecureTLS,
		UserAgent:         a.opts.HTTPUserAgent,
	})
	if err != nil {
		return nil, fatalf("%v", err)
	}
	return rt, nil
}
