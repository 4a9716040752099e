package s3

// SetPageSize makes List fetch at most n keys per request, so tests can
// exercise pagination with a handful of objects.
func (b *Backend) SetPageSize(n int32) { b.pageSize = n }

// AWSEndpoint exposes the endpoint classification for tests.
func (c Config) AWSEndpoint() (bool, string) { return c.awsEndpoint() }

// UsePathStyle exposes the bucket lookup decision for tests.
func (c Config) UsePathStyle() bool { return c.usePathStyle() }

// StorageClassFor exposes the storage class choice for tests.
func (c Config) StorageClassFor(isData bool) string { return c.storageClassFor(isData) }

// BaseEndpoint returns the URL the client sends requests to.
func (b *Backend) BaseEndpoint() string { return *b.client.Options().BaseEndpoint }

// IsMinIO exposes the Server header test for tests.
func IsMinIO(server string) bool { return isMinIO(server) }
