package s3

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Whether a listing shows every completed upload.
//
// restic waits 200 ms between writing its lock file and listing the locks,
// so that an S3 server that lists new objects only eventually has time to
// show a competitor's lock. Three services need no such wait, by their
// own documentation:
//
//   - AWS S3 has listed every completed PUT at once, for every client, since
//     December 2020 ("strong read-after-write consistency", which AWS states
//     for list requests too);
//   - Cloudflare R2 states that a listing shows all objects at that point
//     in time, globally;
//   - MinIO states strict read-after-write and list-after-write consistency
//     for all operations, standalone and distributed.
//
// AWS and R2 are known from the endpoint's name; MinIO from the Server
// header of its answers, which the Backend watches from its first request
// on. Any other server (Ceph's gateway across sites, other distributed
// stores, unknown proxies) keeps the wait: arca cannot tell how it lists.

// serverWatcher passes requests to next and records whether an answer
// came from MinIO.
type serverWatcher struct {
	next  aws.HTTPClient
	minio *atomic.Bool
}

func (w serverWatcher) Do(req *http.Request) (*http.Response, error) {
	resp, err := w.next.Do(req)
	if resp != nil && isMinIO(resp.Header.Get("Server")) {
		w.minio.Store(true)
	}
	return resp, err
}

// isMinIO reports whether a Server header names MinIO ("MinIO", or
// "MinIO/<release>" in older versions).
func isMinIO(server string) bool {
	name, _, _ := strings.Cut(server, "/")
	return strings.EqualFold(strings.TrimSpace(name), "MinIO")
}

// isR2Endpoint reports whether endpoint is Cloudflare R2's S3 API:
// <account>.r2.cloudflarestorage.com, or with a jurisdiction label
// (<account>.eu.r2.cloudflarestorage.com), with or without a port.
func isR2Endpoint(endpoint string) bool {
	host := strings.ToLower(endpoint)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.HasSuffix(host, ".r2.cloudflarestorage.com")
}

// listsConsistently reports whether the server is known to list every
// completed upload at once: AWS and R2 by the endpoint, MinIO once it
// answered.
func (b *Backend) listsConsistently() bool {
	isAWS, _ := b.cfg.awsEndpoint()
	return isAWS || isR2Endpoint(b.cfg.Endpoint) || b.sawMinIO.Load()
}
