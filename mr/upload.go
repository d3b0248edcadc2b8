package mr

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"
)

// Upload stores the file at path in the data store, cut at line
// boundaries into objects of about splitSize bytes (a line is never cut),
// each named by its SHA-256: bytes uploaded before are not sent again. It
// returns the job's inputs, one per object, in order, all named after the
// file. A splitSize outside MinSplitSize to MaxSplitSize is an error
// wrapping ErrInvalidSpec, before anything is read.
func Upload(ctx context.Context, store *Store, path string, splitSize int64) ([]Input, error) {
	if splitSize < MinSplitSize || splitSize > MaxSplitSize {
		return nil, specErrorf("split_size", "is %d: want %d to %d bytes", splitSize, MinSplitSize, MaxSplitSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	r := bufio.NewReaderSize(f, 64<<10)
	var inputs []Input
	var offset int64 // of the next piece in the file
	for {
		chunk, err := nextChunk(r, splitSize)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if len(chunk) == 0 && len(inputs) > 0 {
			return inputs, nil
		}
		sum := sha256.Sum256(chunk)
		digest := hex.EncodeToString(sum[:])
		object := InputObject(digest)
		// An object of this name whose digest is another was put there by
		// someone who may write inputs, not by Upload: it is replaced.
		info, err := store.Inputs.GetInfo(ctx, object)
		switch {
		case errors.Is(err, jetstream.ErrObjectNotFound) || err == nil && info.Digest != ObjectDigest(sum):
			if _, err := store.Inputs.PutBytes(ctx, object, chunk); err != nil {
				return nil, fmt.Errorf("upload %s: %w", path, err)
			}
		case err != nil:
			return nil, fmt.Errorf("upload %s: %w", path, err)
		}
		inputs = append(inputs, Input{Name: name, Object: object, Size: int64(len(chunk)), Digest: digest, Offset: offset})
		offset += int64(len(chunk))
		if len(chunk) == 0 {
			return inputs, nil // an empty file is one empty input
		}
	}
}

// ObjectDigest is the object store's digest of bytes whose SHA-256 is
// sum, as jetstream.ObjectInfo.Digest states it.
func ObjectDigest(sum [sha256.Size]byte) string {
	return "SHA-256=" + base64.URLEncoding.EncodeToString(sum[:])
}

// nextChunk reads about size bytes and then to the end of the line.
func nextChunk(r *bufio.Reader, size int64) ([]byte, error) {
	chunk := make([]byte, size)
	n, err := io.ReadFull(r, chunk)
	chunk = chunk[:n]
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return chunk, nil
	}
	if err != nil {
		return nil, err
	}
	if chunk[n-1] == '\n' {
		return chunk, nil
	}
	rest, err := r.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return append(chunk, rest...), nil
}
