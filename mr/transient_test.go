package mr_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
)

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("read input a.txt: %w", nats.ErrNoResponders), true},
		{fmt.Errorf("write x: %w", jetstream.ErrNoStreamResponse), true},
		{fmt.Errorf("put: %w", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}), true},
		{nats.ErrTimeout, true},
		// A direct get answered 503, as nats.go words it: a reduce's read
		// of a map output is tried again, not reported lost.
		{fmt.Errorf("map 3's output: %w", errors.New("nats: JetStream system temporarily unavailable")), true},
		{errors.New("input JetStream system temporarily unavailable.txt: bad line"), false},
		{fmt.Errorf("create stream: %w", &jetstream.APIError{Code: 500, ErrorCode: 10005, Description: "no suitable peers for placement"}), true},
		{context.DeadlineExceeded, false}, // the task's own deadline
		{&jetstream.APIError{Code: 404, ErrorCode: 10037}, false},
		{jetstream.ErrObjectNotFound, false}, // a lost map output: recomputed, not retried
		{&mr.RecordError{Err: errors.New("bad line")}, false},
		{errors.New("this mapper always fails"), false},
	}
	for _, tt := range tests {
		if got := mr.Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
