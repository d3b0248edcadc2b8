package master

import (
	"github.com/drover-dev/drover/mr"
)

// A task lives in the work queue as the message of its newest attempt,
// and the core counts on that message until the attempt commits or
// fails: a task that is published but never started has no deadline.
// Should the message leave the queue with nobody to run it (the stream
// lost it in a leader change, say, or a master before this one
// published an attempt the stream dropped as a duplicate of one
// already gone), nothing would bring the task back. So the shell
// compares the tasks that should be queued (Queued) with the messages
// the queue holds, and tells the core of an attempt whose message it
// found gone in two checks in a row (Requeue): the core publishes
// another attempt of the task, which counts as no failure.
//
// A worker running an attempt whose message has gone stops it at its
// next heartbeat (its message is withdrawn), long before the second
// check: the new attempt does not run beside it.

// Requeue is the shell's finding that attempt, the newest of its task,
// has no message in the work queue and no commit.
type Requeue struct {
	Task    TaskID
	Attempt int
}

func (Requeue) event() {}

// Attempt names one attempt of a task.
type Attempt struct {
	Task    TaskID
	Attempt int
}

// Queued returns the newest attempt of every task of a running job that
// should have a message in the work queue: published, neither committed
// nor waiting for a lost input, started or not. In job, phase and index
// order.
func (c *Core) Queued() []Attempt {
	var queued []Attempt
	c.eachLiveTask(func(t *task) {
		if t.attempt > 0 && !t.committed && !t.waiting {
			queued = append(queued, Attempt{Task: t.id, Attempt: t.attempt})
		}
	})
	return queued
}

// requeue publishes a new attempt of a task whose newest attempt's
// message is gone; a finding about an older attempt, or a task that
// committed or waits since, changes nothing. A reduce found gone while a
// map is being recomputed waits for it, as a failed one does.
func (c *Core) requeue(ev Requeue) []Action {
	t := c.live(ev.Task)
	if t == nil || ev.Attempt != t.attempt || t.attempt == 0 || t.waiting {
		return nil
	}
	j := c.jobs[ev.Task.Job]
	if t.id.Phase == mr.PhaseReduce && !allCommitted(j.tasks[mr.PhaseMap]) {
		t.waiting, t.started = true, false
		return nil
	}
	return []Action{c.publish(j, t, WhyLost)}
}
