package mr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

func TestUploadCutsAtLinesAndSkipsKnownBytes(t *testing.T) {
	b := brokertest.Start(t)
	js, _ := jetstream.New(b.Connect())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := mr.Ensure(ctx, js, mr.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for i := range 300 {
		fmt.Fprintf(&lines, "line %d of the text\n", i)
	}
	text := lines.String() + "last line without newline"
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte(text), 0o644)

	inputs, err := mr.Upload(ctx, store, path, mr.MinSplitSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 3 {
		t.Fatalf("Upload cut %d bytes into %d pieces of %d, want more", len(text), len(inputs), mr.MinSplitSize)
	}
	var joined []byte
	for i, in := range inputs {
		data, err := store.Inputs.GetBytes(ctx, in.Object)
		if err != nil {
			t.Fatal(err)
		}
		if in.Name != "in.txt" || int64(len(data)) != in.Size {
			t.Errorf("input %d = %+v for %d bytes", i, in, len(data))
		}
		if i < len(inputs)-1 && !bytes.HasSuffix(data, []byte("\n")) {
			t.Errorf("input %d does not end at a line's end", i)
		}
		// Records are numbered by their place in the file.
		for rec, err := range in.Records(bytes.NewReader(data), in.Size, mr.Split{End: in.Size}) {
			if err != nil || !strings.HasPrefix(text[rec.Offset:], rec.Text+"\n") && text[rec.Offset:] != rec.Text {
				t.Fatalf("input %d: record %+v, %v is not at its offset in the file", i, rec, err)
			}
		}
		joined = append(joined, data...)
	}
	if string(joined) != text {
		t.Fatal("the uploaded pieces do not make the file")
	}

	// The same bytes again: nothing new is stored.
	before, _ := store.Inputs.Status(ctx)
	again, err := mr.Upload(ctx, store, path, mr.MinSplitSize)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := store.Inputs.Status(ctx)
	if len(again) != len(inputs) || after.Size() != before.Size() {
		t.Errorf("re-upload stored %d more bytes", after.Size()-before.Size())
	}

	// Bytes someone put in place of a piece, under its name: the next
	// upload of the file puts the piece back.
	if _, err := store.Inputs.PutBytes(ctx, inputs[1].Object, []byte("forged\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := mr.Upload(ctx, store, path, mr.MinSplitSize); err != nil {
		t.Fatal(err)
	}
	if data, err := store.Inputs.GetBytes(ctx, inputs[1].Object); err != nil || int64(len(data)) != inputs[1].Size {
		t.Errorf("a forged piece after its upload = %q, %v; want the %d bytes of the file", data[:min(len(data), 20)], err, inputs[1].Size)
	}

	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	if in, err := mr.Upload(ctx, store, empty, mr.MinSplitSize); err != nil || len(in) != 1 || in[0].Size != 0 {
		t.Errorf("Upload(empty) = %+v, %v; want one empty input", in, err)
	}
}

// TestUploadRefusesSplitSizes: a split size out of bounds is an error
// naming the bounds, before the file is read; none panics or allocates it.
func TestUploadRefusesSplitSizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("a line\n"), 0o644)
	for _, size := range []int64{0, -1, mr.MinSplitSize - 1, mr.MaxSplitSize + 1, 1e12} {
		_, err := mr.Upload(context.Background(), nil, path, size)
		if !errors.Is(err, mr.ErrInvalidSpec) || !strings.Contains(err.Error(), fmt.Sprintf("split_size is %d: want 1024 to 1073741824 bytes", size)) {
			t.Errorf("Upload(split size %d) = %v, want an invalid split size", size, err)
		}
	}
}
