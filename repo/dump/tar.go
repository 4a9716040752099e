package dump

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/arca-backup/arca/repo/model"
)

// tarArchive writes nodes as tar entries with the headers restic writes:
// permission bits plus setuid/setgid/sticky, numeric and named owner,
// mtime/atime/ctime (kept where the format chosen by archive/tar allows),
// symlink targets, and extended attributes as PAX records (POSIX ACLs in
// their text form as SCHILY.acl.*, others as SCHILY.xattr.<name>).
type tarArchive struct {
	d  *Dumper
	tw *tar.Writer
}

func newTarArchive(d *Dumper) *tarArchive {
	return &tarArchive{d: d, tw: tar.NewWriter(d.w)}
}

// Mode bits of the USTAR format.
const (
	tarSetuid = 0o4000
	tarSetgid = 0o2000
	tarSticky = 0o1000
)

func (a *tarArchive) add(ctx context.Context, name string, node *model.Node) error {
	h := &tar.Header{
		Name:       name,
		Size:       int64(node.Size),
		Mode:       int64(node.Mode.Perm()),
		Uid:        int(node.UID),
		Gid:        int(node.GID),
		Uname:      node.User,
		Gname:      node.Group,
		ModTime:    node.ModTime,
		AccessTime: node.AccessTime,
		ChangeTime: node.ChangeTime,
		PAXRecords: paxRecords(node.ExtendedAttributes),
	}
	if node.Mode&os.ModeSetuid != 0 {
		h.Mode |= tarSetuid
	}
	if node.Mode&os.ModeSetgid != 0 {
		h.Mode |= tarSetgid
	}
	if node.Mode&os.ModeSticky != 0 {
		h.Mode |= tarSticky
	}
	switch node.Type {
	case model.NodeTypeFile:
		h.Typeflag = tar.TypeReg
	case model.NodeTypeSymlink:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = node.LinkTarget
	case model.NodeTypeDir:
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	}
	if err := a.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing header for %q: %w", "/"+name, err)
	}
	return a.d.writeContent(ctx, a.tw, node.Content)
}

func (a *tarArchive) close() error {
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("close tar archive: %w", err)
	}
	return nil
}

// paxRecords turns extended attributes into PAX records. It always returns
// a map (possibly empty), as restic does.
func paxRecords(attrs []model.ExtendedAttribute) map[string]string {
	recs := make(map[string]string)
	for _, attr := range attrs {
		key := ""
		switch attr.Name {
		case "system.posix_acl_access":
			key = "SCHILY.acl.access"
		case "system.posix_acl_default":
			key = "SCHILY.acl.default"
		}
		if key == "" {
			recs["SCHILY.xattr."+attr.Name] = string(attr.Value)
			continue
		}
		if text, err := linuxACLText(attr.Value); err == nil {
			recs[key] = text
		}
		// an ACL that cannot be parsed is left out
	}
	return recs
}

// Linux ACL entry tags and permission bits (acl(5), the xattr encoding).
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20

	aclRead    = 0x4
	aclWrite   = 0x2
	aclExecute = 0x1
)

// linuxACLText converts a Linux ACL xattr (version 2: a 4-byte version,
// then 8-byte entries tag/perm/id, little endian) to the long text form,
// one "tag:qualifier:rwx" line per entry, with numeric IDs.
func linuxACLText(b []byte) (string, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 {
		return "", errors.New("wrong length")
	}
	if binary.LittleEndian.Uint32(b) != 2 {
		return "", errors.New("unsupported ACL format version")
	}
	var out []byte
	for e := b[4:]; len(e) >= 8; e = e[8:] {
		tag := binary.LittleEndian.Uint16(e)
		perm := binary.LittleEndian.Uint16(e[2:])
		id := binary.LittleEndian.Uint32(e[4:])
		switch tag {
		case aclUserObj:
			out = append(out, "user:"...)
		case aclUser:
			out = strconv.AppendUint(append(out, "user:"...), uint64(id), 10)
		case aclGroupObj:
			out = append(out, "group:"...)
		case aclGroup:
			out = strconv.AppendUint(append(out, "group:"...), uint64(id), 10)
		case aclMask:
			out = append(out, "mask:"...)
		case aclOther:
			out = append(out, "other:"...)
		default:
			return "", errors.New("unknown tag")
		}
		out = append(out, ':')
		for _, p := range []struct {
			bit uint16
			c   byte
		}{{aclRead, 'r'}, {aclWrite, 'w'}, {aclExecute, 'x'}} {
			if perm&p.bit != 0 {
				out = append(out, p.c)
			} else {
				out = append(out, '-')
			}
		}
		out = append(out, '\n')
	}
	return string(out), nil
}
