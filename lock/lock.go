package lock

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"
)

// Lock is the content of a lock file. Its JSON encoding is exactly restic's:
// the same fields in the same order with the same names, uid and gid left
// out when zero.
type Lock struct {
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
	UID       uint32    `json:"uid,omitempty"`
	GID       uint32    `json:"gid,omitempty"`
}

// Marshal returns the plaintext JSON restic writes for the lock.
func (lk Lock) Marshal() ([]byte, error) {
	buf, err := json.Marshal(lk)
	if err != nil {
		return nil, fmt.Errorf("lock: encoding lock: %w", err)
	}
	return buf, nil
}

// Unmarshal decodes lock JSON as written by restic or arca.
func Unmarshal(buf []byte) (Lock, error) {
	var lk Lock
	if err := json.Unmarshal(buf, &lk); err != nil {
		return Lock{}, fmt.Errorf("lock: decoding lock: %w", err)
	}
	return lk, nil
}

// describe formats the lock as restic does in its "already locked" message.
// age is the age by the lock's timestamp, id the storage ID.
func (lk Lock) describe(age time.Duration, id string) string {
	return fmt.Sprintf("PID %d on %s by %s (UID %d, GID %d)\nlock was created at %s (%s ago)\nstorage ID %s",
		lk.PID, lk.Hostname, lk.Username, lk.UID, lk.GID,
		lk.Time.Format("2006-01-02 15:04:05"), age, shortID(id))
}

// shortID is restic's short form of an ID (its first 4 bytes in hex).
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// identity returns the template lock for this process: hostname, user, PID
// as restic fills them in. A missing user leaves the user fields empty; a
// user with non-numeric IDs is an error, as in restic.
func identity() (Lock, error) {
	lk := Lock{PID: os.Getpid()}
	if hn, err := os.Hostname(); err == nil {
		lk.Hostname = hn
	}
	usr, err := user.Current()
	if err != nil {
		return lk, nil
	}
	lk.Username = usr.Username
	uid, err := strconv.ParseUint(usr.Uid, 10, 32)
	if err != nil {
		return Lock{}, fmt.Errorf("lock: invalid UID %q", usr.Uid)
	}
	gid, err := strconv.ParseUint(usr.Gid, 10, 32)
	if err != nil {
		return Lock{}, fmt.Errorf("lock: invalid GID %q", usr.Gid)
	}
	lk.UID, lk.GID = uint32(uid), uint32(gid)
	return lk, nil
}
