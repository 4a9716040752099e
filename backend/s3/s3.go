// Package s3 stores a repository in an S3 bucket (AWS or any S3-compatible
// server such as MinIO or versitygw), in restic's layout under a prefix:
// <prefix>/config, keys/, locks/, snapshots/, index/ and data/<xx>/<id>.
//
// It talks to the server with aws-sdk-go-v2. Credentials and the region
// come from where the SDK finds them (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, shared config
// files, instance roles) unless the Config overrides the region. Uploads
// are single PutObject requests with a seekable body (no copy of the pack),
// ranged reads use HTTP Range, and a semaphore bounds the requests in
// flight. Missing objects wrap backend.ErrNotExist; authorization and
// not-found failures are backend.PermanentErrors.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/arca-backup/arca/backend"
)

// defaultRegion signs requests when nothing else names a region.
const defaultRegion = "us-east-1"

// Backend is a repository in an S3 bucket.
type Backend struct {
	cfg    Config
	client *s3.Client
	sem    backend.Semaphore
	// pageSize limits the keys per listing request (0: the server's
	// default, 1000 on AWS); set by tests.
	pageSize int32
	// sawMinIO is set once an answer came from MinIO (consistency.go)
	sawMinIO atomic.Bool
}

var _ backend.Backend = (*Backend)(nil)

// unusedCABundle is the CA bundle the SDK gets where a bundle of the
// user's would not be used: when its HTTP client is replaced by
// cfg.Transport's, or speaks plain HTTP. A bundle in the load options wins
// over AWS_CA_BUNDLE and a profile's ca_bundle, which the SDK would
// otherwise read and parse all the same (restic reads neither). With the
// system bundle in AWS_CA_BUNDLE, as on this project's VM, that cost every
// S3 command 2.3 MiB of peak memory; and a missing or unparsable bundle
// failed every S3 command, where restic works. The certificate (Ed25519,
// self-signed, expired) trusts nothing.
const unusedCABundle = `-----BEGIN CERTIFICATE-----
MIHOMIGBoAMCAQICAQEwBQYDK2VwMBExDzANBgNVBAMTBnVudXNlZDAeFw0yNjAx
MDEwMDAwMDBaFw0yNjAxMDIwMDAwMDBaMBExDzANBgNVBAMTBnVudXNlZDAqMAUG
AytlcAMhABY1Q1fSlsSqvVFuC1yhljg89C9snQbrx2C+IsLI+/RtMAUGAytlcANB
AF73l8vmSGXFX12jHV1M0Efq29J1mvkIj3l0fQf3ukiAFLYHJQwYF01r7w5zLuHh
jAgjM6/cpB7xa+hQwk2vYgs=
-----END CERTIFICATE-----
`

// New returns a backend for cfg. It contacts the server only for an AWS
// endpoint whose region neither the options, the endpoint's name nor the
// AWS configuration tell: then it asks AWS for the bucket's region.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}
	// The SDK's log lines would end up in arca's output. The HTTP client is
	// replaced after loading, never passed in with
	// WithHTTPClient: with AWS_CA_BUNDLE set, loading would reject a plain
	// *http.Client.
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithLogger(logging.Nop{})}
	if cfg.Transport != nil || cfg.UseHTTP {
		opts = append(opts, awsconfig.WithCustomCABundle(strings.NewReader(unusedCABundle)))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if cfg.Transport != nil {
		awsCfg.HTTPClient = &http.Client{Transport: cfg.Transport}
	}
	if cfg.MaxRetries > 0 {
		awsCfg.RetryMaxAttempts = cfg.MaxRetries
	}
	if cfg.Anonymous {
		awsCfg.Credentials = aws.AnonymousCredentials{}
	}

	isAWS, endpointRegion := cfg.awsEndpoint()
	region := cfg.Region
	if region == "" {
		region = endpointRegion
	}
	if region == "" {
		// as restic: AWS_DEFAULT_REGION, not AWS_REGION or the shared
		// configuration's region, which the SDK would use (other tools'
		// settings there could sign for the wrong region; unknown, the
		// bucket's region is asked for below)
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	guessed := region == ""
	if guessed {
		region = defaultRegion
	}
	b := &Backend{cfg: cfg, sem: backend.NewSemaphore(cfg.Connections)}
	b.setClient(awsCfg, region)
	if guessed && isAWS {
		// As minio-go does for restic: ask AWS where the bucket lives.
		if r := b.bucketRegion(ctx); r != "" && r != region {
			b.setClient(awsCfg, r)
		}
	}
	return b, nil
}

// setClient makes the S3 client for region.
func (b *Backend) setClient(awsCfg aws.Config, region string) {
	cfg := &b.cfg
	awsCfg.Region = region
	cfg.Region = region
	isAWS, endpointRegion := cfg.awsEndpoint()
	scheme := "https://"
	if cfg.UseHTTP {
		scheme = "http://"
	}
	endpoint := scheme + cfg.Endpoint
	if isAWS && (endpointRegion == "" || awsRegionName.MatchString(cfg.Endpoint)) {
		endpoint = scheme + "s3." + region + ".amazonaws.com"
	}
	b.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = cfg.usePathStyle()
		o.DisableLogOutputChecksumValidationSkipped = true
		// after the SDK has set its HTTP client up
		o.HTTPClient = serverWatcher{next: o.HTTPClient, minio: &b.sawMinIO}
	})
}

// bucketRegion asks the server for the bucket's region with HeadBucket:
// AWS names it in the x-amz-bucket-region header, also when it refuses
// the request (301 to another region, 403). "" when it is not known.
func (b *Backend) bucketRegion(ctx context.Context) string {
	out, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.cfg.Bucket)},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	if err == nil {
		return aws.ToString(out.BucketRegion)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

// Open returns the backend for an existing repository. The error wraps
// backend.ErrNoRepository when there is no config file at the location.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil {
		if backend.IsNotExist(err) {
			return nil, fmt.Errorf("%w: %w", backend.ErrNoRepository, err)
		}
		return nil, err
	}
	return b, nil
}

// Config returns the configuration with the region actually used.
func (b *Backend) Config() Config { return b.cfg }

// Location returns the repository's location in restic's syntax.
func (b *Backend) Location() string { return b.cfg.String() }

// Properties describes the backend. A PUT replaces an object atomically.
// Listings are consistent on AWS and R2, and on MinIO once it has
// answered a request (consistency.go).
func (b *Backend) Properties() backend.Properties {
	return backend.Properties{Connections: b.cfg.Connections, HasAtomicReplace: true, ConsistentList: b.listsConsistently(), Remote: true}
}

// Close releases nothing: the SDK's connections are idle between calls.
func (b *Backend) Close() error { return nil }

func (b *Backend) acquire(ctx context.Context) error { return b.sem.Acquire(ctx) }

func (b *Backend) release() { b.sem.Release() }

// key returns the object key of a handle.
func (b *Backend) key(h backend.Handle) string {
	return path.Join(b.cfg.Prefix, h.Path())
}

// dirKey returns the key prefix (ending in "/") of a file type's directory.
func (b *Backend) dirKey(t backend.FileType) string {
	return path.Join(b.cfg.Prefix, t.Dir()) + "/"
}

// wrapErr names the operation, the file and the location, and classifies
// the cause: missing objects wrap backend.ErrNotExist, authorization
// failures and other answers that a retry cannot change are permanent.
func (b *Backend) wrapErr(op string, h backend.Handle, err error) error {
	werr := fmt.Errorf("%s %v at %s: %w", op, h, b.Location(), err)
	switch {
	case isNotFound(err):
		return fmt.Errorf("%s %v at %s: %w", op, h, b.Location(), backend.NotExist(err))
	case isPermanent(err):
		return &backend.PermanentError{Err: werr}
	}
	return werr
}

// isNotFound reports whether err says the object does not exist. A missing
// bucket is not a missing file (see isPermanent), except that HEAD answers
// a bare 404 for both.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	return statusCode(err) == http.StatusNotFound
}

// permanentCodes are S3 error codes that no retry fixes.
var permanentCodes = map[string]bool{
	"AccessDenied":                 true,
	"AllAccessDisabled":            true,
	"AuthorizationHeaderMalformed": true,
	"InvalidAccessKeyId":           true,
	"InvalidBucketName":            true,
	"NoSuchBucket":                 true,
	"SignatureDoesNotMatch":        true,
	"InvalidRange":                 true,
	"InvalidStorageClass":          true,
}

func isPermanent(err error) bool {
	switch statusCode(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusRequestedRangeNotSatisfiable:
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && permanentCodes[ae.ErrorCode()]
}

func isAPICode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// statusCode returns the HTTP status of a failed request, 0 when there was
// no response.
func statusCode(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// Create makes the bucket when it does not exist. Unlike the other
// backends, and like restic's S3 backend, it does not look for a config
// file: the repository's creation does (repo.Create), and a config found
// then is restic's "repository master key and config already
// initialized".
func (b *Backend) Create(ctx context.Context) error {
	return b.ensureBucket(ctx)
}

// ensureBucket creates the bucket unless it exists. When the credentials
// may not ask about the bucket (403), it is assumed to exist, as restic does.
func (b *Backend) ensureBucket(ctx context.Context) error {
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.cfg.Bucket)})
	if err == nil || statusCode(err) == http.StatusForbidden {
		return nil
	}
	if statusCode(err) != http.StatusNotFound {
		return fmt.Errorf("create repository: check bucket %s at %s: %w", b.cfg.Bucket, b.Location(), err)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(b.cfg.Bucket)}
	if b.cfg.Region != defaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(b.cfg.Region),
		}
	}
	_, err = b.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create repository: create bucket %s at %s: %w", b.cfg.Bucket, b.Location(), err)
	}
	return nil
}

// Save uploads the file in one PutObject request; an existing object is
// replaced. The body is seekable so that the SDK can hash it and retry.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("save %v: %w", h, err)}
	}
	body, err := uploadBody(rd)
	if err != nil {
		return fmt.Errorf("save %v at %s: %w", h, b.Location(), err)
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.cfg.Bucket),
		Key:           aws.String(b.key(h)),
		Body:          body,
		ContentLength: aws.Int64(rd.Length()),
		ContentType:   aws.String("application/octet-stream"),
	}
	if sc := b.cfg.storageClassFor(h.Type == backend.PackFile); sc != "" {
		in.StorageClass = types.StorageClass(sc)
	}
	if _, err := b.client.PutObject(ctx, in); err != nil {
		return b.wrapErr("save", h, err)
	}
	return nil
}

// Load calls fn with a reader over length bytes at offset (length 0: to
// the end), fetched with an HTTP Range request. A range beyond the end of
// the object is a permanent error wrapping backend.ErrTooShort. fn's own
// error is returned unchanged.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: %w", h, err)}
	}
	if length < 0 || offset < 0 {
		return &backend.PermanentError{Err: fmt.Errorf("load %v: invalid range (length %d, offset %d)", h, length, offset)}
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()

	in := &s3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(b.key(h))}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+int64(length)-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if statusCode(err) == http.StatusRequestedRangeNotSatisfiable {
			return b.loadPastEnd(ctx, h, length, offset, fn, err)
		}
		return b.wrapErr("load", h, err)
	}
	defer func() { _ = out.Body.Close() }()

	if in.Range != nil && !strings.HasPrefix(aws.ToString(out.ContentRange), fmt.Sprintf("bytes %d-", offset)) {
		// A server that ignores Range would hand out the wrong bytes.
		return &backend.PermanentError{Err: fmt.Errorf("load %v at %s: asked for %s, the server answered with range %q",
			h, b.Location(), aws.ToString(in.Range), aws.ToString(out.ContentRange))}
	}
	if length > 0 && aws.ToInt64(out.ContentLength) < int64(length) {
		return b.tooShort(h, length, offset, fmt.Sprintf("the server sent %d bytes", aws.ToInt64(out.ContentLength)))
	}
	var rd io.Reader = out.Body
	if length > 0 {
		rd = io.LimitReader(out.Body, int64(length))
	}
	return fn(rd)
}

// loadPastEnd handles a range the server could not satisfy: an empty read
// exactly at the end of the file is fine, anything else is too short.
func (b *Backend) loadPastEnd(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error, rangeErr error) error {
	in := &s3.HeadObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(b.key(h))}
	out, err := b.client.HeadObject(ctx, in)
	if err != nil {
		return b.wrapErr("load", h, err)
	}
	size := aws.ToInt64(out.ContentLength)
	if length == 0 && offset == size {
		return fn(strings.NewReader(""))
	}
	return b.tooShort(h, length, offset, fmt.Sprintf("the object has %d bytes (%v)", size, rangeErr))
}

func (b *Backend) tooShort(h backend.Handle, length int, offset int64, detail string) error {
	return &backend.PermanentError{Err: fmt.Errorf("load %v at %s: want %d bytes at offset %d, but %s: %w",
		h, b.Location(), length, offset, detail, backend.ErrTooShort)}
}

// Stat returns the size and modification time of a file.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := backend.CheckHandle(h); err != nil {
		return backend.FileInfo{}, &backend.PermanentError{Err: fmt.Errorf("stat %v: %w", h, err)}
	}
	if err := b.acquire(ctx); err != nil {
		return backend.FileInfo{}, err
	}
	defer b.release()
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(b.key(h))})
	if err != nil {
		return backend.FileInfo{}, b.wrapErr("stat", h, err)
	}
	return backend.FileInfo{Name: h.Name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Remove deletes a file. Deleting a missing object succeeds on S3.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := backend.CheckHandle(h); err != nil {
		return &backend.PermanentError{Err: fmt.Errorf("remove %v: %w", h, err)}
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(b.key(h))})
	if err != nil {
		return b.wrapErr("remove", h, err)
	}
	return nil
}

// object is one listed object, from either listing API.
type object struct {
	key     string
	size    int64
	modTime time.Time
}

// List calls fn for every file of type t with its size and modification
// time, one page of keys at a time (ListObjectsV2, or ListObjects with
// ListObjectsV1). Data files are found in every data/<xx>/ subdirectory.
// The semaphore is held only while a page is fetched, so fn may call the
// backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t == backend.ConfigFile {
		fi, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
		switch {
		case err == nil:
			if err := fn(fi); err != nil {
				return err
			}
		case !backend.IsNotExist(err):
			return err
		}
		return ctx.Err()
	}
	if t < backend.PackFile || t > backend.IndexFile {
		return fmt.Errorf("list %v: invalid file type", t)
	}
	dir := b.dirKey(t)
	visit := func(objs []object) error {
		for _, o := range objs {
			rest, ok := strings.CutPrefix(o.key, dir)
			if !ok {
				continue
			}
			if t == backend.PackFile {
				// data/<xx>/<name>
				sub, name, ok := strings.Cut(rest, "/")
				if !ok || len(sub) != 2 {
					continue
				}
				rest = name
			}
			if rest == "" || strings.Contains(rest, "/") {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(backend.FileInfo{Name: rest, Size: o.size, ModTime: o.modTime}); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if b.cfg.ListObjectsV1 {
		err = b.listV1(ctx, dir, visit)
	} else {
		err = b.listV2(ctx, dir, visit)
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

func (b *Backend) listV2(ctx context.Context, dir string, visit func([]object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.cfg.Bucket), Prefix: aws.String(dir)}
	if b.pageSize > 0 {
		in.MaxKeys = aws.Int32(b.pageSize)
	}
	for {
		page, err := listPage(ctx, b, dir, func() (*s3.ListObjectsV2Output, error) { return b.client.ListObjectsV2(ctx, in) })
		if err != nil {
			return err
		}
		if err := visit(objectsOf(page.Contents)); err != nil {
			return err
		}
		if !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextContinuationToken) == "" {
			return nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

func (b *Backend) listV1(ctx context.Context, dir string, visit func([]object) error) error {
	in := &s3.ListObjectsInput{Bucket: aws.String(b.cfg.Bucket), Prefix: aws.String(dir)}
	if b.pageSize > 0 {
		in.MaxKeys = aws.Int32(b.pageSize)
	}
	for {
		page, err := listPage(ctx, b, dir, func() (*s3.ListObjectsOutput, error) { return b.client.ListObjects(ctx, in) })
		if err != nil {
			return err
		}
		objs := objectsOf(page.Contents)
		if err := visit(objs); err != nil {
			return err
		}
		if !aws.ToBool(page.IsTruncated) || len(objs) == 0 {
			return nil
		}
		// Without a delimiter ListObjects gives no NextMarker: continue
		// after the last key.
		next := aws.ToString(page.NextMarker)
		if next == "" {
			next = objs[len(objs)-1].key
		}
		in.Marker = aws.String(next)
	}
}

func objectsOf(contents []types.Object) []object {
	objs := make([]object, 0, len(contents))
	for _, o := range contents {
		objs = append(objs, object{key: aws.ToString(o.Key), size: aws.ToInt64(o.Size), modTime: aws.ToTime(o.LastModified)})
	}
	return objs
}

// listPage fetches one page of a listing under the semaphore.
func listPage[T any](ctx context.Context, b *Backend, dir string, fetch func() (T, error)) (T, error) {
	var zero T
	if err := b.acquire(ctx); err != nil {
		return zero, err
	}
	out, err := fetch()
	b.release()
	if err != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		werr := fmt.Errorf("list %s at %s: %w", dir, b.Location(), err)
		if isPermanent(err) {
			return zero, &backend.PermanentError{Err: werr}
		}
		return zero, werr
	}
	return out, nil
}

// Describe returns the short message restic (through minio-go) shows for a
// failed request, such as "The specified key does not exist." or "Access
// Denied.", falling back to the server's message or the whole error.
func Describe(err error) string {
	switch {
	case isNotFound(err):
		return "The specified key does not exist."
	case isAPICode(err, "NoSuchBucket"):
		return "The specified bucket does not exist."
	case statusCode(err) == http.StatusForbidden:
		return "Access Denied."
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorMessage() != "" {
		return ae.ErrorMessage()
	}
	// a request that got no answer: the HTTP client's error, as restic
	// shows it (Head "https://host/bucket/config": dial tcp ...), not the
	// SDK's account of its attempts around it
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return err.Error()
}
