package s3

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/arca-backup/arca/backend/location"
)

// DefaultConnections is restic's default connection limit for S3.
const DefaultConnections = 5

// Bucket lookup styles (the s3.bucket-lookup option).
const (
	LookupAuto = "auto" // path style for custom endpoints, virtual hosts on AWS
	LookupDNS  = "dns"  // virtual-host style: https://bucket.host/key
	LookupPath = "path" // path style: https://host/bucket/key
)

// Config describes an S3 repository and how to reach it.
type Config struct {
	// Endpoint is host[:port] of the server, or an AWS host
	// (s3.amazonaws.com, s3.<region>.amazonaws.com) or AWS region name.
	Endpoint string
	// UseHTTP selects plain HTTP instead of HTTPS.
	UseHTTP bool
	Bucket  string
	// Prefix is the repository's path inside the bucket, without slashes
	// at either end; empty means the bucket root.
	Prefix string
	// Region signs the requests. Empty: the region in an AWS endpoint
	// name, AWS_DEFAULT_REGION (as restic, not AWS_REGION), or us-east-1
	// (on AWS, the bucket's region where it tells).
	Region string
	// BucketLookup is LookupAuto (or empty), LookupDNS or LookupPath.
	BucketLookup string
	// StorageClass is set on uploaded objects (for archive classes such as
	// GLACIER only on data files, as restic does). Empty: the bucket default.
	StorageClass string
	// Connections limits the requests in flight (DefaultConnections when 0).
	Connections uint
	// ListObjectsV1 lists with the old ListObjects call instead of ListObjectsV2.
	ListObjectsV1 bool
	// MaxRetries, when set, is the number of attempts per request (the
	// SDK's default otherwise: 3).
	MaxRetries int
	// Anonymous sends unsigned requests (no credentials looked up).
	Anonymous bool
	// Transport, when set, carries every request (TLS options such as a
	// custom CA). Nil: the SDK's own transport, which honours AWS_CA_BUNDLE
	// for an HTTPS endpoint.
	Transport http.RoundTripper
}

// archiveClasses are storage classes whose objects cannot be read at once;
// only data files go there, metadata stays instantly readable.
var archiveClasses = []string{"GLACIER", "DEEP_ARCHIVE"}

// ErrUnknownOption is wrapped by NewConfig for an s3.* option restic does
// not know either.
var ErrUnknownOption = errors.New("unknown option")

// unknownOptionError reads like restic's message and matches ErrUnknownOption.
type unknownOptionError struct{ key string }

func (e *unknownOptionError) Error() string { return "option " + e.key + " is not known" }
func (e *unknownOptionError) Unwrap() error { return ErrUnknownOption }

// NewConfig builds a Config from a parsed location and the -o options
// (keys "s3.region", "s3.bucket-lookup", "s3.storage-class",
// "s3.connections", "s3.list-objects-v1", "s3.retries",
// "s3.unsafe-anonymous-auth"; restic's "s3.layout" and restore options are
// accepted, and "s3.enable-restore=true" is refused). Options of other
// backends are ignored; an unknown s3.* option is an error wrapping
// ErrUnknownOption.
func NewConfig(loc *location.S3Config, opts map[string]string) (Config, error) {
	cfg := Config{
		Endpoint:    loc.Endpoint,
		UseHTTP:     loc.UseHTTP,
		Bucket:      loc.Bucket,
		Prefix:      strings.Trim(loc.Prefix, "/"),
		Connections: loc.Connections,
	}
	if cfg.Prefix == "." {
		cfg.Prefix = ""
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}
	for k, v := range opts {
		name, ok := strings.CutPrefix(strings.ToLower(k), "s3.")
		if !ok {
			continue
		}
		switch name {
		case "region":
			cfg.Region = v
		case "bucket-lookup":
			cfg.BucketLookup = strings.ToLower(v)
		case "storage-class":
			cfg.StorageClass = v
		case "connections":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return Config{}, fmt.Errorf("invalid value %q for option s3.connections: want a positive number", v)
			}
			cfg.Connections = uint(n)
		case "list-objects-v1", "unsafe-anonymous-auth", "enable-restore":
			b, err := parseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("invalid value %q for option s3.%s: %w", v, name, err)
			}
			switch name {
			case "list-objects-v1":
				cfg.ListObjectsV1 = b
			case "unsafe-anonymous-auth":
				cfg.Anonymous = b
			case "enable-restore":
				if b {
					return Config{}, errors.New("s3.enable-restore: restoring objects from archive storage classes is not supported by arca")
				}
			}
		case "retries":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return Config{}, fmt.Errorf("invalid value %q for option s3.retries: %w", v, err)
			}
			cfg.MaxRetries = int(n)
		case "layout", "restore-days", "restore-timeout", "restore-tier":
			// accepted for compatibility; they change nothing here
		default:
			return Config{}, &unknownOptionError{key: k}
		}
	}
	return cfg, cfg.validate()
}

// parseBool accepts what restic's option parser accepts; an empty value
// (-o s3.list-objects-v1=) means true, as for a bare flag.
func parseBool(v string) (bool, error) {
	if v == "" {
		return true, nil
	}
	return strconv.ParseBool(v)
}

func (c Config) validate() error {
	if c.Endpoint == "" {
		return fmt.Errorf("s3: no endpoint")
	}
	if c.Bucket == "" {
		return fmt.Errorf("s3: bucket name not found in %q", c.Endpoint)
	}
	switch c.BucketLookup {
	case "", LookupAuto, LookupDNS, LookupPath:
	default:
		return fmt.Errorf(`bad bucket-lookup style %q must be "auto", "path" or "dns"`, c.BucketLookup)
	}
	return nil
}

// String returns the location in restic's URL form, e.g.
// "s3:http://127.0.0.1:9000/bucket/prefix".
func (c Config) String() string {
	l := location.S3Config{Endpoint: c.Endpoint, UseHTTP: c.UseHTTP, Bucket: c.Bucket, Prefix: c.Prefix}
	return l.String()
}

// awsRegionName matches AWS region names such as "eu-central-1" or
// "us-gov-west-1", which restic's location syntax allows as the endpoint.
var awsRegionName = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$`)

// awsHost matches AWS's S3 endpoints and captures the region, if any:
// s3.amazonaws.com, s3.eu-west-1.amazonaws.com, s3-eu-west-1.amazonaws.com,
// s3.dualstack.eu-west-1.amazonaws.com.
var awsHost = regexp.MustCompile(`^s3(?:[.-]dualstack)?(?:[.-]([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$`)

// awsEndpoint reports whether the endpoint means AWS itself, and the region
// its name carries ("" when none).
func (c Config) awsEndpoint() (isAWS bool, region string) {
	host := strings.ToLower(c.Endpoint)
	if awsRegionName.MatchString(host) {
		return true, host
	}
	if m := awsHost.FindStringSubmatch(host); m != nil {
		if m[1] == "external-1" || m[1] == "us-east-1" {
			return true, "us-east-1"
		}
		return true, m[1]
	}
	return false, ""
}

// usePathStyle decides between path-style and virtual-host-style URLs.
func (c Config) usePathStyle() bool {
	switch c.BucketLookup {
	case LookupPath:
		return true
	case LookupDNS:
		return false
	}
	isAWS, _ := c.awsEndpoint()
	return !isAWS
}

// storageClassFor returns the storage class for a new object of the given
// kind: archive classes apply to data files only.
func (c Config) storageClassFor(isData bool) string {
	if c.StorageClass == "" {
		return ""
	}
	if slices.Contains(archiveClasses, strings.ToUpper(c.StorageClass)) && !isData {
		return ""
	}
	return c.StorageClass
}
