// Package packer assembles restic pack files in temporary files.
//
// A Packer collects already sealed blobs of one type in a temporary file
// and, once finished, appends the sealed header and its length and names
// the pack by the SHA-256 of the whole file, computed over the bytes as
// they are handed to the file. The file is not read back to hash it: that
// would prove no more, since the upload reads the file once again anyway,
// and the name is right exactly when that read returns what was written
// (as the name of a read-back hash is right exactly when the upload's read
// returns what the hashing read returned). A Manager
// keeps a few open packers per blob type and puts each new blob into one
// chosen at random, so the chunks of one file end up spread over several
// packs in an order an observer cannot predict (restic does the same since
// 0.18 against chunk-size fingerprinting).
//
// Packs never live in memory: a pack costs a file descriptor, a small
// write buffer and its blob list, whatever its size. Where the system
// allows it the temporary file never has a name (Linux's O_TMPFILE), or
// loses it as soon as it is created, so a crash leaves nothing behind;
// otherwise Close removes it. A finished unnamed file can be linked into
// a local repository on the same file system (Reader.LinkTo), which then
// stores the pack without copying its bytes. Such a pack can have its
// bytes sent on to the disk while it is still being filled (WriteBehind),
// so that the sync before the link finds little left to write.
package packer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/fsync"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// MaxHeaderEntries is the most blobs a pack header can list (restic's limit:
// the plaintext header stays within pack.MaxHeaderSize).
const MaxHeaderEntries = (pack.MaxHeaderSize - pack.HeaderOverhead) / pack.CompressedEntrySize

// ErrCorrupted is wrapped when a finished pack does not verify.
var ErrCorrupted = errors.New("data corruption detected while writing a pack")

// TempPrefix starts the name of every temporary pack file.
const TempPrefix = "arca-temp-pack-"

// writeBuffer is the size of a packer's write buffer: it gathers small
// blobs (trees, small files) into fewer writes; larger blobs bypass it.
const writeBuffer = 64 << 10

// readBuffer is the size of the buffer through which a pack is merged
// into another.
const readBuffer = 256 << 10

// writeBehindStep is how many bytes a write-behind pack hands to the file
// between two requests to start writing them to the disk.
const writeBehindStep = 4 << 20

// Packer collects sealed blobs of one type into a pack file.
type Packer struct {
	typ      model.BlobType
	f        *os.File
	remove   string // path to remove on Close ("" once unlinked)
	linkable bool   // f has no name and can be given one (linkTo)
	w        *bufio.Writer
	hash     hash.Hash // SHA-256 of the bytes written so far
	size     int64     // bytes written (blobs, then header)
	data     int64     // blob bytes (size until Finalize)
	blobs    []model.Blob
	done     bool
	err      error // first write error; the pack is unusable after it

	// writeBehind starts the disk writes of the bytes in the file every
	// writeBehindStep bytes; they are started up to behind.
	writeBehind bool
	behind      int64
	startWrite  func(f *os.File, off, n int64) // startWriteback; tests record
}

// New starts an empty pack for blobs of type t in a new temporary file in
// dir (the system's temporary directory when dir is empty).
func New(t model.BlobType, dir string) (*Packer, error) {
	if f, ok := createUnnamed(dir); ok {
		return packerOn(t, f, "", true), nil
	}
	f, err := os.CreateTemp(dir, TempPrefix)
	if err != nil {
		return nil, fmt.Errorf("create temporary pack file: %w", err)
	}
	// Unlinking an open file works on Unix; where it does not (Windows),
	// Close removes the file.
	remove := f.Name()
	if os.Remove(f.Name()) == nil {
		remove = ""
	}
	return packerOn(t, f, remove, false), nil
}

func packerOn(t model.BlobType, f *os.File, remove string, linkable bool) *Packer {
	return &Packer{typ: t, f: f, remove: remove, linkable: linkable, w: bufio.NewWriterSize(f, writeBuffer), hash: sha256.New(), startWrite: startWriteback}
}

// WriteBehind makes the packer ask the system to start writing its bytes
// to the disk as they reach the file, a few MiB at a time, instead of
// leaving all of them to the sync before the pack is linked (on Linux;
// elsewhere it does nothing). It only pays when the file is kept: the
// bytes of a pack that is copied elsewhere and deleted need never reach
// the disk.
func (p *Packer) WriteBehind() { p.writeBehind = true }

// Type returns the blob type of the pack.
func (p *Packer) Type() model.BlobType { return p.typ }

// Size returns the number of blob bytes in the pack (without the header).
func (p *Packer) Size() int {
	if p.done {
		return int(p.data)
	}
	return int(p.size)
}

// Count returns the number of blobs in the pack.
func (p *Packer) Count() int { return len(p.blobs) }

// Blobs returns the blobs added so far, with their offsets in the pack.
func (p *Packer) Blobs() []model.Blob { return p.blobs }

// EntrySize is the size of a blob's header entry: larger for compressed blobs.
func EntrySize(compressed bool) int {
	if compressed {
		return pack.CompressedEntrySize
	}
	return pack.PlainEntrySize
}

// write appends b to the file and to the pack's hash.
func (p *Packer) write(b []byte) error {
	if p.err != nil {
		return p.err
	}
	p.hash.Write(b) // never fails
	n, err := p.w.Write(b)
	p.size += int64(n)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		p.err = fmt.Errorf("write temporary pack file: %w", err)
		return p.err
	}
	if p.writeBehind {
		// only what left the buffer is in the file
		if inFile := p.size - int64(p.w.Buffered()); inFile-p.behind >= writeBehindStep {
			p.startWrite(p.f, p.behind, inFile-p.behind)
			p.behind = inFile
		}
	}
	return nil
}

// Add appends a sealed blob (IV, ciphertext, MAC) with the plaintext ID id.
// uncompressedLength is 0 for a blob stored uncompressed. It returns the
// bytes the blob adds to the pack, counting its header entry. After an
// error the pack cannot be used any more (only closed).
func (p *Packer) Add(id model.ID, sealed []byte, uncompressedLength int) (int, error) {
	if p.done {
		panic("packer: Add after Finalize")
	}
	off := p.size
	if err := p.write(sealed); err != nil {
		return 0, err
	}
	p.blobs = append(p.blobs, model.Blob{
		BlobHandle:         model.BlobHandle{ID: id, Type: p.typ},
		Offset:             uint(off),
		Length:             uint(len(sealed)),
		UncompressedLength: uint(uncompressedLength),
	})
	return len(sealed) + EntrySize(uncompressedLength != 0), nil
}

// Full reports whether the pack has reached size bytes of blobs or its
// header cannot take maxBlobs (at most MaxHeaderEntries) more entries.
func (p *Packer) Full(size, maxBlobs int) bool {
	if maxBlobs <= 0 || maxBlobs > MaxHeaderEntries {
		maxBlobs = MaxHeaderEntries
	}
	return p.size >= int64(size) || len(p.blobs) >= maxBlobs
}

// Merge moves all blobs of o to the end of p and closes o.
func (p *Packer) Merge(o *Packer) error {
	if o.typ != p.typ {
		panic("packer: merging packs of different blob types")
	}
	defer o.Close()
	if o.err != nil {
		p.err = o.err
		return o.err
	}
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("write temporary pack file: %w", err)
	}
	base := p.size
	if p.err != nil {
		return p.err
	}
	// o's bytes enter p's hash as they are copied: what is read from o is
	// what is written to p and hashed
	buf := make([]byte, min(readBuffer, o.size))
	rd := io.NewSectionReader(o.f, 0, o.size)
	for off := int64(0); off < o.size; {
		n, err := io.ReadFull(rd, buf[:min(int64(len(buf)), o.size-off)])
		off += int64(n)
		if err != nil {
			p.err = fmt.Errorf("merge temporary pack files: %w", err)
			return p.err
		}
		if err := p.write(buf[:n]); err != nil {
			return err
		}
	}
	for _, b := range o.blobs {
		b.Offset += uint(base)
		p.blobs = append(p.blobs, b)
	}
	o.blobs = nil
	return nil
}

// Close releases the temporary file. It may be called more than once; the
// packer must not be used afterwards.
func (p *Packer) Close() error {
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	if p.remove != "" {
		if rerr := os.Remove(p.remove); err == nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	p.f, p.w = nil, nil
	return err
}

// Pack is a finished pack file.
type Pack struct {
	// ID is the SHA-256 of the file, the pack's file name.
	ID model.ID
	// Size is the length of the whole file: blobs, sealed header, header length.
	Size int64
	// Blobs lists the blobs in file order.
	Blobs []model.Blob
	// HeaderSize is the number of bytes after the last blob.
	HeaderSize int
}

// Finalize seals the header with c, appends it and its length and names
// the pack by the hash of everything written. When verify is set it
// decrypts the sealed header again and checks that it lists exactly the
// pack's blobs. The packer cannot take blobs afterwards;
// Reader returns the file's contents until Close.
func (p *Packer) Finalize(c *crypto.Cipher, verify bool) (Pack, error) {
	if p.done {
		return Pack{}, errors.New("packer: Finalize called twice")
	}
	if len(p.blobs) == 0 {
		return Pack{}, errors.New("packer: empty pack")
	}
	if p.f == nil {
		return Pack{}, errors.New("packer: Finalize after Close")
	}
	p.done = true
	p.data = p.size
	plain := pack.EncodeHeader(p.blobs)
	sealed := c.Seal(nil, plain)
	sealed = binary.LittleEndian.AppendUint32(sealed, uint32(len(sealed)))
	if verify {
		if err := verifyHeader(c, sealed[:len(sealed)-4], plain, p.blobs); err != nil {
			return Pack{}, fmt.Errorf("%w: %v", ErrCorrupted, err)
		}
	}
	if err := p.write(sealed); err != nil {
		return Pack{}, err
	}
	if err := p.w.Flush(); err != nil {
		return Pack{}, fmt.Errorf("write temporary pack file: %w", err)
	}
	return Pack{
		ID:         model.ID(p.hash.Sum(nil)),
		Size:       p.size,
		Blobs:      p.blobs,
		HeaderSize: int(p.size - p.data),
	}, nil
}

// Reader returns a reader over the finished pack file that can start over
// (it satisfies backend.RewindReader). Call it after Finalize.
func (p *Packer) Reader() *Reader {
	if !p.done {
		panic("packer: Reader before Finalize")
	}
	return &Reader{f: p.f, size: p.size, linkable: p.linkable}
}

// Reader reads a finished pack file; Rewind starts over. Several Readers
// of one pack must not be used at the same time.
type Reader struct {
	f        *os.File
	size     int64
	off      int64
	linkable bool
}

// Read reads the next bytes of the pack.
func (r *Reader) Read(b []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if rest := r.size - r.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := r.f.ReadAt(b, r.off)
	r.off += int64(n)
	if err == io.EOF && r.off < r.size {
		err = io.ErrUnexpectedEOF
	} else if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// WriteTo copies the rest of the pack to w. When w is a file the kernel
// copies the bytes (copy_file_range) without passing them through memory
// of this process.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if _, err := r.f.Seek(r.off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.Copy(w, &io.LimitedReader{R: r.f, N: r.size - r.off})
	r.off += n
	if err == nil && r.off < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

var _ backend.LinkableSource = (*Reader)(nil)

// LinkTo syncs the pack file and gives it the name path, where the file
// was created without a name and path is on its file system
// (backend.LinkableSource). Otherwise it reports false and the backend
// copies the pack.
func (r *Reader) LinkTo(path string) (bool, error) {
	if !r.linkable {
		return false, nil
	}
	if err := fsync.File(r.f); err != nil {
		return false, fmt.Errorf("sync temporary pack file: %w", err)
	}
	if err := linkTo(r.f, path); err != nil {
		// another file system, no /proc, ...: copying still works
		return false, nil
	}
	return true, nil
}

// copyPiece is how much CopyTo copies between progress reports.
const copyPiece = 4 << 20

// CopyTo copies the rest of the pack to dst in pieces of copyPiece bytes,
// calling progress after each (backend.FileSource). Between two files the
// kernel moves the bytes (copy_file_range) without passing them through
// memory of this process.
func (r *Reader) CopyTo(dst *os.File, progress func() error) (int64, error) {
	if _, err := r.f.Seek(r.off, io.SeekStart); err != nil {
		return 0, err
	}
	var total int64
	for r.off < r.size {
		n, err := io.Copy(dst, &io.LimitedReader{R: r.f, N: min(copyPiece, r.size-r.off)})
		r.off += n
		total += n
		if err == nil && n == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return total, err
		}
		if progress != nil {
			if err := progress(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// Rewind starts over from the first byte.
func (r *Reader) Rewind() error {
	r.off = 0
	return nil
}

// Length returns the size of the pack file.
func (r *Reader) Length() int64 { return r.size }

// verifyHeader opens the sealed header and checks it against what was
// meant to be written.
func verifyHeader(c *crypto.Cipher, sealed, plain []byte, blobs []model.Blob) error {
	got, err := c.Open(nil, sealed)
	if err != nil {
		return fmt.Errorf("header does not decrypt: %w", err)
	}
	if !bytes.Equal(got, plain) {
		return errors.New("decrypted header differs from the encoded one")
	}
	parsed, err := pack.DecodeHeader(got)
	if err != nil {
		return fmt.Errorf("header does not parse: %w", err)
	}
	if len(parsed) != len(blobs) {
		return fmt.Errorf("header lists %d blobs, want %d", len(parsed), len(blobs))
	}
	for i := range parsed {
		if parsed[i] != blobs[i] {
			return fmt.Errorf("header entry %d is %v, want %v", i, parsed[i], blobs[i])
		}
	}
	return nil
}
