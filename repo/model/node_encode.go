package model

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the node's stored form to buf: the bytes MarshalJSON
// gives, without the reflection and the validation encoding/json spends
// on every node and on every content ID (a backup encodes a tree for
// every directory, and trees are what tree IDs are computed from).
// Unusual values (strings that need escaping, generic attributes, odd
// time zones) are encoded through encoding/json, so the result is always
// the same.
func (n *Node) AppendJSON(buf []byte) ([]byte, error) {
	if len(n.GenericAttributes) != 0 {
		b, err := n.MarshalJSON()
		return append(buf, b...), err
	}
	name := n.Name
	if !goQuotesAsIs(name) {
		q := strconv.Quote(name)
		name = q[1 : len(q)-1]
	}
	buf = append(buf, `{"name":`...)
	buf = appendJSONString(buf, name)
	buf = append(buf, `,"type":`...)
	buf = appendJSONString(buf, string(n.Type))
	if n.Mode != 0 {
		buf = append(buf, `,"mode":`...)
		buf = strconv.AppendUint(buf, uint64(n.Mode), 10)
	}
	var err error
	for _, f := range [...]struct {
		key string
		t   time.Time
	}{{`,"mtime":`, n.ModTime}, {`,"atime":`, n.AccessTime}, {`,"ctime":`, n.ChangeTime}} {
		buf = append(buf, f.key...)
		if buf, err = appendJSONTime(buf, FixTime(f.t)); err != nil {
			return buf, err
		}
	}
	buf = append(buf, `,"uid":`...)
	buf = strconv.AppendUint(buf, uint64(n.UID), 10)
	buf = append(buf, `,"gid":`...)
	buf = strconv.AppendUint(buf, uint64(n.GID), 10)
	if n.User != "" {
		buf = append(buf, `,"user":`...)
		buf = appendJSONString(buf, n.User)
	}
	if n.Group != "" {
		buf = append(buf, `,"group":`...)
		buf = appendJSONString(buf, n.Group)
	}
	buf = appendUintField(buf, `,"inode":`, n.Inode)
	buf = appendUintField(buf, `,"device_id":`, n.DeviceID)
	buf = appendUintField(buf, `,"size":`, n.Size)
	buf = appendUintField(buf, `,"links":`, n.Links)
	if n.LinkTarget != "" {
		buf = append(buf, `,"linktarget":`...)
		buf = appendJSONString(buf, n.LinkTarget)
		if !utf8.ValidString(n.LinkTarget) {
			buf = append(buf, `,"linktarget_raw":`...)
			buf = appendJSONBytes(buf, []byte(n.LinkTarget))
		}
	}
	if len(n.ExtendedAttributes) != 0 {
		buf = append(buf, `,"extended_attributes":[`...)
		for i, a := range n.ExtendedAttributes {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"name":`...)
			buf = appendJSONString(buf, a.Name)
			buf = append(buf, `,"value":`...)
			if a.Value == nil {
				buf = append(buf, "null"...)
			} else {
				buf = appendJSONBytes(buf, a.Value)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	buf = appendUintField(buf, `,"device":`, n.Device)
	buf = append(buf, `,"content":`...)
	if n.Content == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, id := range n.Content {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONID(buf, id)
		}
		buf = append(buf, ']')
	}
	if n.Subtree != nil {
		buf = append(buf, `,"subtree":`...)
		buf = appendJSONID(buf, *n.Subtree)
	}
	if n.Error != "" {
		buf = append(buf, `,"error":`...)
		buf = appendJSONString(buf, n.Error)
	}
	return append(buf, '}'), nil
}

func appendUintField(buf []byte, key string, v uint64) []byte {
	if v == 0 {
		return buf
	}
	buf = append(buf, key...)
	return strconv.AppendUint(buf, v, 10)
}

func appendJSONID(buf []byte, id ID) []byte {
	buf = append(buf, '"')
	buf = hex.AppendEncode(buf, id[:])
	return append(buf, '"')
}

func appendJSONBytes(buf []byte, b []byte) []byte {
	buf = append(buf, '"')
	buf = base64.StdEncoding.AppendEncode(buf, b)
	return append(buf, '"')
}

// appendJSONString appends s as encoding/json writes it. Strings of
// printable ASCII without the characters it escapes are copied; the rest
// go through encoding/json.
// goQuotesAsIs reports whether strconv.Quote leaves s as it is between
// the quotes: printable ASCII without quote or backslash.
func goQuotesAsIs(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds). Zone offsets that are not whole minutes, or a day or more,
// are left to MarshalJSON, which formats or rejects them.
func appendJSONTime(buf []byte, t time.Time) ([]byte, error) {
	_, off := t.Zone()
	if off%60 != 0 || off <= -24*3600 || off >= 24*3600 || t.Year() < 0 || t.Year() > 9999 {
		b, err := t.MarshalJSON()
		return append(buf, b...), err
	}
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"'), nil
}
