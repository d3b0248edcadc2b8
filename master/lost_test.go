package master

import (
	"slices"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// TestWorkerLost: the attempts of a worker found gone are handed back,
// once, the same attempts, and keep their deadlines; a worker that
// started again elsewhere, a committed task and another worker's are
// left alone.
func TestWorkerLost(t *testing.T) {
	job := Submitted{Job: "j", Maps: 3, Reduces: 1, MaxAttempts: 2, Timeout: time.Second}
	c := run(t, []step{
		{0, job, []Action{pub(mr.PhaseMap, 0, 1), pub(mr.PhaseMap, 1, 1), pub(mr.PhaseMap, 2, 1)}},
		{0, Started{Task: id(mr.PhaseMap, 0), Attempt: 1, Worker: "a", Ack: "ack0"}, nil},
		{0, Started{Task: id(mr.PhaseMap, 1), Attempt: 1, Worker: "a", Ack: "ack1"}, nil},
		{0, Started{Task: id(mr.PhaseMap, 2), Attempt: 1, Worker: "b", Ack: "ack2"}, nil},
	})
	if got, want := c.Workers(), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Workers() = %q, want %q", got, want)
	}
	steps := []struct {
		ev   Event
		want []Action
	}{
		{Committed{id(mr.PhaseMap, 1), 1}, nil},
		{WorkerLost{Worker: "a"}, []Action{HandBack{Task: id(mr.PhaseMap, 0), Attempt: 1, Ack: "ack0"}}},
		{WorkerLost{Worker: "a"}, nil}, // found gone again: nothing left of it
		{WorkerLost{Worker: "nobody"}, nil},
		// The handed-back attempt starts on c; a lost a does not touch it.
		{Started{Task: id(mr.PhaseMap, 0), Attempt: 1, Worker: "c", Ack: "ack0b"}, nil},
		{WorkerLost{Worker: "a"}, nil},
	}
	for i, s := range steps {
		if got := c.Handle(t0, s.ev); !slices.EqualFunc(got, s.want, func(a, b Action) bool { return a == b }) {
			t.Fatalf("step %d: Handle(%T%+v) = %+v, want %+v", i, s.ev, s.ev, got, s.want)
		}
	}
	if got, want := c.Workers(), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Workers() = %q, want %q", got, want)
	}
	// A handed-back attempt that no worker takes still has its deadline.
	c.Handle(t0, WorkerLost{Worker: "c"})
	if got := c.Handle(t0.Add(2*time.Second), Tick{}); len(got) == 0 {
		t.Error("an attempt handed back and never taken again did not time out")
	}
}

func TestValidAck(t *testing.T) {
	for _, tt := range []struct {
		ack  string
		want bool
	}{
		{mr.TaskAckPrefix(mr.ConsumerWorkers) + "1.2.3.4.5", true},
		{mr.TaskAckPrefix(mr.ConsumerExecWorkers) + "1.2.3.4.5", true},
		{"$JS.ACK." + mr.StreamTasks + ".other.1.2.3.4.5", false},
		{mr.TaskAckPrefix(mr.ConsumerWorkers) + "1.2.3.4.5.6.7", true},
		{"", false},
		{"$JS.ACK.OTHER.workers.1.2.3.4.5", false},
		{mr.TaskAckPrefix(mr.ConsumerWorkers) + ">", false},
		{mr.TaskAckPrefix(mr.ConsumerWorkers) + "1.*.3", false},
		{mr.TaskAckPrefix(mr.ConsumerWorkers) + "1 2", false},
		{mr.TaskAckPrefix(mr.ConsumerWorkers) + "1..2", false},
		{mr.TaskAckPrefix(mr.ConsumerWorkers) + string(make([]byte, 1000)), false},
	} {
		if got := validAck(tt.ack); got != tt.want {
			t.Errorf("validAck(%.60q) = %v, want %v", tt.ack, got, tt.want)
		}
	}
}
