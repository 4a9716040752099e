package crypto

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KDFScrypt is the only key derivation function restic (and arca) supports.
const KDFScrypt = "scrypt"

var (
	// ErrWrongPassword is wrapped by KeyFile.Open when the password does not
	// open the key (the sealed master key fails authentication). The error
	// also wraps ErrUnauthenticated.
	ErrWrongPassword = errors.New("wrong password or no key found")

	// ErrUnsupportedKDF is wrapped when a key file names a KDF other than scrypt.
	ErrUnsupportedKDF = errors.New("unsupported key derivation function")

	// ErrMalformedKeyFile is wrapped when a key file cannot be parsed or its
	// contents are structurally wrong.
	ErrMalformedKeyFile = errors.New("malformed key file")
)

// KeyFile is the content of keys/<id>: plain JSON describing how to derive
// a key from a password, plus the master key sealed under that derived key.
// Field order and JSON names are restic's, so json.Marshal gives the same
// layout restic writes.
type KeyFile struct {
	Created  time.Time `json:"created"`
	Username string    `json:"username"`
	Hostname string    `json:"hostname"`

	KDF  string `json:"kdf"`
	N    int    `json:"N"`
	R    int    `json:"r"`
	P    int    `json:"p"`
	Salt []byte `json:"salt"`
	Data []byte `json:"data"`
}

// NewKeyFile seals master under a key derived from password with scrypt
// parameters p and a fresh salt. Store the result of Marshal under
// keys/<hex SHA-256 of those bytes>.
func NewKeyFile(master *Key, password string, p Params, username, hostname string, created time.Time) (*KeyFile, error) {
	if !master.Valid() {
		return nil, fmt.Errorf("crypto: new key file: master key: %w", ErrInvalidKey)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("crypto: new key file: %w", err)
	}
	salt, err := NewSalt()
	if err != nil {
		return nil, fmt.Errorf("crypto: new key file: %w", err)
	}
	user, err := KDF(p, salt, password)
	if err != nil {
		return nil, fmt.Errorf("crypto: new key file: %w", err)
	}
	plain, err := json.Marshal(master)
	if err != nil {
		return nil, fmt.Errorf("crypto: new key file: encode master key: %w", err)
	}
	data := user.Seal(make([]byte, 0, len(plain)+Extension), plain)
	clear(plain)
	return &KeyFile{
		Created:  created,
		Username: username,
		Hostname: hostname,
		KDF:      KDFScrypt,
		N:        p.N,
		R:        p.R,
		P:        p.P,
		Salt:     salt,
		Data:     data,
	}, nil
}

// ParseKeyFile decodes a key file's JSON. It checks syntax only; Open
// checks the contents.
func ParseKeyFile(data []byte) (*KeyFile, error) {
	kf := &KeyFile{}
	if err := json.Unmarshal(data, kf); err != nil {
		return nil, fmt.Errorf("crypto: parse key file: %w (%w)", err, ErrMalformedKeyFile)
	}
	return kf, nil
}

// Marshal returns the key file's JSON as restic writes it (compact, no
// trailing newline).
func (kf *KeyFile) Marshal() ([]byte, error) {
	b, err := json.Marshal(kf)
	if err != nil {
		return nil, fmt.Errorf("crypto: encode key file: %w", err)
	}
	return b, nil
}

// Params returns the key file's scrypt parameters.
func (kf *KeyFile) Params() Params {
	return Params{N: kf.N, R: kf.R, P: kf.P}
}

// Open derives the password key and unseals the master key. A password that
// does not fit gives an error wrapping ErrWrongPassword (and
// ErrUnauthenticated); an unknown KDF wraps ErrUnsupportedKDF; unusable
// scrypt parameters wrap ErrInvalidParams; structural problems (salt size,
// short data, bad master key JSON, zero master key) wrap ErrMalformedKeyFile.
func (kf *KeyFile) Open(password string) (*Key, error) {
	if kf.KDF != KDFScrypt {
		return nil, fmt.Errorf("crypto: open key file: kdf %q, only %q is supported: %w", kf.KDF, KDFScrypt, ErrUnsupportedKDF)
	}
	p := kf.Params()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("crypto: open key file: %w", err)
	}
	if len(kf.Salt) != SaltSize {
		return nil, fmt.Errorf("crypto: open key file: salt is %d bytes, want %d: %w", len(kf.Salt), SaltSize, ErrMalformedKeyFile)
	}
	if len(kf.Data) < Extension {
		return nil, fmt.Errorf("crypto: open key file: data is %d bytes, need at least %d: %w", len(kf.Data), Extension, ErrMalformedKeyFile)
	}
	user, err := KDF(p, kf.Salt, password)
	if err != nil {
		return nil, fmt.Errorf("crypto: open key file: %w", err)
	}
	plain, err := user.Open(nil, kf.Data)
	if errors.Is(err, ErrUnauthenticated) {
		return nil, fmt.Errorf("crypto: open key file: %w (%w)", ErrWrongPassword, err)
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: open key file: %w (%w)", err, ErrMalformedKeyFile)
	}
	defer clear(plain)
	master := &Key{}
	if err := json.Unmarshal(plain, master); err != nil {
		return nil, fmt.Errorf("crypto: open key file: master key: %w (%w)", err, ErrMalformedKeyFile)
	}
	if !master.Valid() {
		return nil, fmt.Errorf("crypto: open key file: master key is zero: %w (%w)", ErrInvalidKey, ErrMalformedKeyFile)
	}
	return master, nil
}
