package worker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// TestOpenObjectTakesDisk: an uploaded input is read into an unlinked
// file of the worker's temporary directory, whole and checked against its
// declared size and digest, and leaves no name behind.
func TestOpenObjectTakesDisk(t *testing.T) {
	ctx, _, store := mrtest.Start(t, 3*time.Second)
	tmp := t.TempDir()
	w, err := New(store, Config{Apps: mrtest.Registry(), TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if w.scratch, err = openScratch(tmp, w.log); err != nil { // as Run does
		t.Fatal(err)
	}
	defer w.scratch.close()
	data := bytes.Repeat([]byte("a line of an uploaded input\n"), 10_000)
	object := mr.InputObject("piece")
	if _, err := store.Inputs.PutBytes(ctx, object, data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	forged := strings.Repeat("0", len(digest)) // another's input, which someone put these bytes in place of
	for _, tt := range []struct {
		size   int64
		digest string
		want   string
	}{
		{int64(len(data)), "", ""},
		{int64(len(data)), digest, ""},
		{int64(len(data)), forged, "has SHA-256 " + digest + ", and its job says " + forged},
		{int64(len(data)) - 1, "", "is more than"},
		{int64(len(data)) + 1, "", "is 280000 bytes, and its job says 280001"},
	} {
		r, size, err := w.open(ctx, &mr.Input{Name: "piece", Object: object, Size: tt.size, Digest: tt.digest})
		if tt.want != "" {
			if !errors.As(err, new(*InputError)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("open(declared %d) = %v, want an *InputError saying %q", tt.size, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(io.NewSectionReader(r, 0, size))
		if !bytes.Equal(got, data) {
			t.Errorf("open read %d bytes, want the %d of the object", len(got), len(data))
		}
		if entries, _ := os.ReadDir(w.scratch.dir); len(entries) != 1 || entries[0].Name() != scratchLock {
			t.Errorf("the open input left %v in the scratch directory", entries)
		}
		r.(io.Closer).Close()
	}
}
