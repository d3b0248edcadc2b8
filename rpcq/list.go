package rpcq

import "time"

// callLink is a call's place in one callList.
type callLink struct {
	prev, next *Call
	in         bool
}

// callList is a list of calls in the order they were added, linked
// through the calls themselves so that adding and removing cost nothing.
// link picks the call's links for this list, so a call can be in several.
// Its methods run under the client's mu.
type callList struct {
	head, tail *Call
	link       func(*Call) *callLink
}

func (l *callList) push(call *Call) {
	lk := l.link(call)
	lk.prev, lk.next, lk.in = l.tail, nil, true
	if l.tail != nil {
		l.link(l.tail).next = call
	} else {
		l.head = call
	}
	l.tail = call
}

func (l *callList) remove(call *Call) {
	lk := l.link(call)
	if !lk.in {
		return
	}
	if lk.prev != nil {
		l.link(lk.prev).next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next != nil {
		l.link(lk.next).prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	*lk = callLink{}
}

// expiryQueue holds the calls that run on the client's default Timeout
// (their context has no deadline), in the order they started. Every such
// call gets the same timeout, so that order is also the order of their
// deadlines: one timer, armed for the head, serves them all, where a timer
// per call would cost as much as the rest of the call. Its methods run
// under the client's mu.
type expiryQueue struct {
	calls callList
	timer *time.Timer
	armed bool
}

func newExpiryQueue() expiryQueue {
	return expiryQueue{calls: callList{link: func(c *Call) *callLink { return &c.byDeadline }}}
}

// push appends call, which must have the latest deadline, at now, and
// arms the timer if it is idle; fire runs when it goes off.
func (q *expiryQueue) push(call *Call, now time.Time, fire func()) {
	q.calls.push(call)
	if !q.armed {
		q.arm(call.deadline.Sub(now), fire)
	}
}

func (q *expiryQueue) remove(call *Call) { q.calls.remove(call) }

// due removes and returns the calls whose deadline is not after now, and
// rearms the timer for the next one.
func (q *expiryQueue) due(now time.Time, fire func()) []*Call {
	q.armed = false
	var calls []*Call
	for q.calls.head != nil && !q.calls.head.deadline.After(now) {
		call := q.calls.head
		q.calls.remove(call)
		calls = append(calls, call)
	}
	if q.calls.head != nil {
		q.arm(q.calls.head.deadline.Sub(now), fire)
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
