package master_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// TestOutputThroughMaster: the owner of a done job reads each output
// through Master.Output, a piece at a time, byte for byte what the
// object store holds; a call without a caller reads it too; another
// caller hears "no job"; an output that does not exist and a cursor past
// the last piece are refused, and nothing of another object leaks.
func TestOutputThroughMaster(t *testing.T) {
	// A small max payload, so that a reply holds one 128 KiB chunk.
	c := prepare(t, &broker.Config{MaxPayload: 256 << 10})
	c.startMaster(t, 1, master.Config{})
	alice, bob := c.as(t, "alice"), c.as(t, "bob")
	// Distinct words enough that each output spans several of the object
	// store's 128 KiB chunks, and several replies.
	var text strings.Builder
	for i := range 60_000 {
		fmt.Fprintf(&text, "%s\n", letters(i))
	}
	spec := mr.JobSpec{ID: "alices", App: "wordcount", R: 2, Inputs: []mr.Input{pathInput(t, text.String())}}
	if err := alice.Call(c.ctx, "Master.Submit", master.SubmitArgs{Spec: spec}, &master.SubmitReply{}); err != nil {
		t.Fatal(err)
	}
	st := c.wait(t, "alices")
	if st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}

	read := func(client *rpcq.Client, r int) ([]byte, int, error) {
		var out []byte
		args, calls := master.OutputArgs{ID: "alices", Partition: r}, 0
		for {
			var piece master.OutputPiece
			if err := client.Call(c.ctx, "Master.Output", args, &piece); err != nil {
				return nil, calls, err
			}
			calls++
			out = append(out, piece.Data...)
			if uint64(len(out)) >= piece.Size || calls > 100 {
				return out, calls, nil
			}
			args.After = piece.Next
		}
	}
	for r, name := range st.Outputs {
		want, err := c.store.Data.GetBytes(c.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for who, client := range map[string]*rpcq.Client{"alice": alice, "no caller": c.client} {
			got, calls, err := read(client, r)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s reading output %d: %d bytes, %v; want the object's %d bytes", who, r, len(got), err, len(want))
			}
			if calls < 2 {
				t.Errorf("output %d of %d bytes came in %d pieces, want several", r, len(want), calls)
			}
		}
	}

	refused := func(what string, client *rpcq.Client, args master.OutputArgs, code int, message string) {
		t.Helper()
		wantRefused(t, what, client.Call(c.ctx, "Master.Output", args, &master.OutputPiece{}), code, message)
	}
	refused("bob reading alice's output", bob, master.OutputArgs{ID: "alices"}, rpcq.CodeUnknownMethod, "no job alices")
	refused("an output past R", alice, master.OutputArgs{ID: "alices", Partition: 2}, rpcq.CodeBadRequest, "not 2")
	refused("a negative output", alice, master.OutputArgs{ID: "alices", Partition: -1}, rpcq.CodeBadRequest, "not -1")
	// A cursor past the end reads as a replica behind.
	refused("a cursor past the end", alice, master.OutputArgs{ID: "alices", After: 1 << 40}, master.CodeNotYet, "not found for now")
	var piece master.OutputPiece
	if err := alice.Call(c.ctx, "Master.Output", master.OutputArgs{ID: "alices", After: 1<<64 - 1}, &piece); err != nil || len(piece.Data) != 0 {
		t.Errorf("the largest cursor = %d bytes, %v; want none and no error", len(piece.Data), err)
	}
}

// letters is i written in base 26 with the letters a to z: a word to
// wordcount.
func letters(i int) string {
	b := []byte{byte('a' + i%26)}
	for i /= 26; i > 0; i /= 26 {
		b = append(b, byte('a'+i%26))
	}
	return string(b)
}
