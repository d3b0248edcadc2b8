package mr

import (
	"context"
	"io"
	"testing"

	"github.com/nats-io/nats.go"
)

// failingReader reads its data, then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReduceReadTimeoutIsTransient: a map output whose read times out
// midway is not corrupt data alone: the reduce's error says that the bus
// failed, so that the attempt is handed back rather than the map
// recomputed.
func TestReduceReadTimeoutIsTransient(t *testing.T) {
	parts, _, err := RunMap(context.Background(), echo{}, lines("a 1\nb 2\na 3\n"), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	cut := &failingReader{data: parts[0][:len(parts[0])-1], err: nats.ErrTimeout}
	_, err = RunReduce(context.Background(), echo{}, []io.Reader{cut}, io.Discard, nil)
	if !Transient(err) {
		t.Errorf("RunReduce over a run that timed out = %v, want a transient error", err)
	}
}
