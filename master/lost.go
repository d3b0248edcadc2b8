package master

import (
	"maps"
	"slices"

	"github.com/drover-dev/drover/mr"
)

// A worker whose process dies takes its attempts with it, and JetStream
// hands them to another worker only after the lease. The shell finds such
// a worker sooner: a worker stays subscribed to its mr.WorkerSubject for
// as long as its connection lives, and the server drops the subscription
// the moment the connection closes, a killed process's included. The
// shell looks for the workers of running attempts (Workers), and tells
// the core of one nobody answers for (WorkerLost); the core hands that
// worker's attempts back to the queue (HandBack), to run elsewhere at
// once. A worker that is alive but stuck, or paused, keeps its
// subscription and is left to the lease.

// WorkerLost is a worker found gone: its connection closed.
type WorkerLost struct{ Worker string }

func (WorkerLost) event() {}

// HandBack returns an attempt whose worker is gone to the work queue, by
// a negative acknowledgement on the subject its message was delivered
// with: JetStream delivers it again at once, the same attempt, to
// another worker.
type HandBack struct {
	Task    TaskID
	Attempt int
	Ack     string // the acknowledgement subject, under mr.TaskAckPrefix
}

func (HandBack) action() {}

// Workers are the workers running the newest attempts of tasks not yet
// committed, each once, sorted: those the shell should keep an eye on.
func (c *Core) Workers() []string {
	seen := map[string]bool{}
	c.eachRunning(func(t *task) { seen[t.worker] = true })
	return slices.Sorted(maps.Keys(seen))
}

// workerLost hands back every running attempt of worker w. The attempts
// stay started, with their deadlines: should the hand-back go astray,
// the lease and then the deadline still bring each back.
func (c *Core) workerLost(w string) []Action {
	var actions []Action
	c.eachRunning(func(t *task) {
		if t.worker != w {
			return
		}
		if t.ack != "" {
			actions = append(actions, HandBack{Task: t.id, Attempt: t.attempt, Ack: t.ack})
		}
		t.worker, t.ack = "", ""
	})
	return actions
}

// eachRunning calls f with every task of a live job whose newest attempt
// a known worker has started and not committed, in job, phase and index
// order.
func (c *Core) eachRunning(f func(t *task)) {
	c.eachLiveTask(func(t *task) {
		if t.started && !t.committed && t.worker != "" {
			f(t)
		}
	})
}

// eachLiveTask calls f with every task of every job that has not ended,
// in job, phase and index order.
func (c *Core) eachLiveTask(f func(t *task)) {
	for _, id := range slices.Sorted(maps.Keys(c.jobs)) {
		j := c.jobs[id]
		if j.state.Ended() {
			continue
		}
		for _, phase := range []mr.Phase{mr.PhaseMap, mr.PhaseReduce} {
			for _, t := range j.tasks[phase] {
				f(t)
			}
		}
	}
}
