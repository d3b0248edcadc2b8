package rpcq

import "time"

// expiryQueue holds the calls that run on the client's default Timeout
// (their context has no deadline), in the order they started. Every such
// call gets the same timeout, so that order is also the order of their
// deadlines: one timer, armed for the head, serves them all, where a timer
// per call would cost as much as the rest of the call. Its methods run
// under the client's mu.
type expiryQueue struct {
	head, tail *Call
	timer      *time.Timer
	armed      bool
}

// push appends call, which must be the newest deadline, and arms the timer
// if it is idle. fire runs when it goes off.
func (q *expiryQueue) push(call *Call, fire func()) {
	call.expiryPrev, call.expiryNext = q.tail, nil
	if q.tail != nil {
		q.tail.expiryNext = call
	} else {
		q.head = call
	}
	q.tail = call
	call.queued = true
	if !q.armed {
		q.arm(time.Until(call.deadline), fire)
	}
}

// remove takes call out of the queue, if it is in.
func (q *expiryQueue) remove(call *Call) {
	if !call.queued {
		return
	}
	if call.expiryPrev != nil {
		call.expiryPrev.expiryNext = call.expiryNext
	} else {
		q.head = call.expiryNext
	}
	if call.expiryNext != nil {
		call.expiryNext.expiryPrev = call.expiryPrev
	} else {
		q.tail = call.expiryPrev
	}
	call.expiryPrev, call.expiryNext, call.queued = nil, nil, false
}

// due removes and returns the calls whose deadline is not after now, and
// rearms the timer for the next one.
func (q *expiryQueue) due(now time.Time, fire func()) []*Call {
	q.armed = false
	var calls []*Call
	for q.head != nil && !q.head.deadline.After(now) {
		call := q.head
		q.remove(call)
		calls = append(calls, call)
	}
	if q.head != nil {
		q.arm(q.head.deadline.Sub(now), fire)
	}
	return calls
}

func (q *expiryQueue) arm(d time.Duration, fire func()) {
	q.armed = true
	if q.timer == nil {
		q.timer = time.AfterFunc(d, fire)
		return
	}
	q.timer.Reset(d)
}

// stop stops the timer for good.
func (q *expiryQueue) stop() {
	if q.timer != nil {
		q.timer.Stop()
	}
}
