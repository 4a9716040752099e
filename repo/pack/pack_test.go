package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
	"github.com/klauspost/compress/zstd"
)

func testBlobs() []model.Blob {
	return []model.Blob{
		{BlobHandle: model.BlobHandle{ID: model.ID{1}, Type: model.DataBlob}, Length: 100},
		{BlobHandle: model.BlobHandle{ID: model.ID{2}, Type: model.TreeBlob}, Length: 200},
		{BlobHandle: model.BlobHandle{ID: model.ID{3}, Type: model.DataBlob}, Length: 50, UncompressedLength: 4000},
		{BlobHandle: model.BlobHandle{ID: model.ID{4}, Type: model.TreeBlob}, Length: 60, UncompressedLength: 700},
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	blobs := testBlobs()
	hdr := EncodeHeader(blobs)
	if want := 2*PlainEntrySize + 2*CompressedEntrySize; len(hdr) != want {
		t.Fatalf("header is %d bytes, want %d", len(hdr), want)
	}
	// type bytes as restic writes them: 0 data, 1 tree, 2/3 compressed
	if hdr[0] != 0 || hdr[PlainEntrySize] != 1 || hdr[2*PlainEntrySize] != 2 || hdr[2*PlainEntrySize+CompressedEntrySize] != 3 {
		t.Fatalf("wrong type bytes in % x", hdr)
	}
	got, err := DecodeHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	var off uint
	for i := range blobs {
		blobs[i].Offset = off
		off += blobs[i].Length
		if got[i] != blobs[i] {
			t.Fatalf("entry %d: got %+v, want %+v", i, got[i], blobs[i])
		}
	}
	if HeaderSize(blobs) != len(hdr)+HeaderOverhead {
		t.Fatalf("HeaderSize = %d, want %d", HeaderSize(blobs), len(hdr)+HeaderOverhead)
	}
}

func TestDecodeHeaderErrors(t *testing.T) {
	hdr := EncodeHeader(testBlobs())
	cases := map[string][]byte{
		"truncated":  hdr[:len(hdr)-1],
		"bad type":   append([]byte{7}, hdr[1:]...),
		"short blob": EncodeHeader([]model.Blob{{BlobHandle: model.BlobHandle{Type: model.DataBlob}, Length: 10}}),
	}
	for name, in := range cases {
		if _, err := DecodeHeader(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestHeaderLength(t *testing.T) {
	tail := binary.LittleEndian.AppendUint32(nil, 100)
	if n, err := HeaderLength(tail, 1000); err != nil || n != 100 {
		t.Fatalf("got %d, %v", n, err)
	}
	for _, c := range []struct {
		hlen uint32
		size int64
	}{{0, 1000}, {10, 1000}, {2000, 1000}, {100, 20}, {MaxHeaderSize, 1 << 30}} {
		tail := binary.LittleEndian.AppendUint32(nil, c.hlen)
		if _, err := HeaderLength(tail, c.size); !errors.Is(err, ErrInvalid) {
			t.Errorf("hlen %d size %d: got %v, want ErrInvalid", c.hlen, c.size, err)
		}
	}
}

func TestDecodeBlob(t *testing.T) {
	key := crypto.NewRandomKey()
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	enc, _ := zstd.NewWriter(nil)
	plain := bytes.Repeat([]byte("restic and arca "), 1000)
	id := model.Hash(plain)
	packID := model.Hash([]byte("a pack"))

	stored := key.Seal(nil, plain)
	b := model.PackedBlob{Blob: model.Blob{BlobHandle: model.BlobHandle{ID: id, Type: model.DataBlob}, Length: uint(len(stored))}, PackID: packID}
	got, err := DecodeBlob(key.Cipher(), dec, b, append([]byte(nil), stored...), nil)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("plain blob: %v", err)
	}

	cstored := key.Seal(nil, enc.EncodeAll(plain, nil))
	cb := b
	cb.Length, cb.UncompressedLength = uint(len(cstored)), uint(len(plain))
	got, err = DecodeBlob(key.Cipher(), dec, cb, append([]byte(nil), cstored...), make([]byte, 10))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("compressed blob: %v", err)
	}

	// the errors name the blob and its pack in restic's words
	handle := fmt.Sprintf("<data/%s>", id.Str())
	// a flipped bit fails authentication
	bad := append([]byte(nil), stored...)
	bad[40] ^= 1
	_, err = DecodeBlob(key.Cipher(), dec, b, bad, nil)
	if want := "decrypting blob " + handle + " from pack " + packID.String() + " failed: "; !errors.Is(err, crypto.ErrUnauthenticated) || !strings.HasPrefix(fmt.Sprint(err), want) {
		t.Fatalf("flipped bit: got %v, want ErrUnauthenticated and %q...", err, want)
	}
	// a wrong length fails decompression
	short := cb
	short.UncompressedLength--
	_, err = DecodeBlob(key.Cipher(), dec, short, append([]byte(nil), cstored...), nil)
	if want := "decompressing blob " + handle + " from pack " + packID.String() + " failed: "; !strings.HasPrefix(fmt.Sprint(err), want) {
		t.Fatalf("wrong length: got %v, want %q...", err, want)
	}
	// a wrong ID fails the hash check
	wrong := b
	wrong.ID = model.ID{9}
	_, err = DecodeBlob(key.Cipher(), dec, wrong, append([]byte(nil), stored...), nil)
	want := fmt.Sprintf("read blob <data/%s> from pack %s: wrong data returned, hash is %s", wrong.ID.Str(), packID, id)
	if !errors.Is(err, ErrBlobHash) || fmt.Sprint(err) != want {
		t.Fatalf("wrong id: got %v, want ErrBlobHash and %q", err, want)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(EncodeHeader(testBlobs()))
	f.Fuzz(func(t *testing.T, data []byte) {
		blobs, err := DecodeHeader(data)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeHeader(blobs), data) {
			t.Fatalf("decoded header does not re-encode to its input")
		}
	})
}
