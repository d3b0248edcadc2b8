package rpcq

// Recovery after an outage. A call whose request or reply was lost waits
// for its resend timer, which doubles with each unanswered send up to
// maxRetryInterval; after an outage that would add up to that much to
// every call caught in it. Two events prove that what was sent before is
// worth sending again at once:
//
//   - the client's connection came back (the broker restarted, or the
//     network healed): requests and replies in flight on the old
//     connection may be lost;
//   - a service that some call found without responders answers again:
//     the instance that took the earlier requests may have died with them.
//
// On either, the calls that may be resent are sent at once and their
// resend wait starts again at RetryInterval.

// watchConnection resends the calls in flight each time the connection
// reconnects. nats.go reports CONNECTED under its lock, before it has sent
// the subscriptions and buffered messages to the new server; a publish
// waits for that lock, so every resend reaches the new server after them.
// It returns when Close removes the listener.
func (c *Client) watchConnection() {
	defer close(c.watched)
	for range c.status {
		c.mu.Lock()
		calls := c.takeResendableLocked(func(*Call) bool { return true })
		c.mu.Unlock()
		c.resend(calls)
	}
}

// takeResendableLocked returns, in sequence order, the calls in flight
// that match and may be sent again now, with their resend timers stopped
// and their waits reset: every call of a retrying mode, and a call of any
// mode whose resend after "not run" is pending. An at-most-once call whose
// resend timer has already fired is skipped: it must not go out twice for
// one "not run".
func (c *Client) takeResendableLocked(match func(*Call) bool) []*Call {
	var calls []*Call
	for call := c.inFlight.head; call != nil; call = call.bySeq.next {
		// Every attempt answered "not run" (or 410 to a new call): none ran.
		neverRan := call.noResp == call.Attempts
		if call.finished || !match(call) || !(call.mode.retries() || neverRan) {
			continue
		}
		if stopped := call.timer != nil && call.timer.Stop(); !stopped && !call.mode.retries() {
			continue // no resend pending: it fired, or the deadline is too near
		}
		call.unanswered = 0
		calls = append(calls, call)
	}
	return calls
}

// resend sends each call's next attempt now.
func (c *Client) resend(calls []*Call) {
	for _, call := range calls {
		c.send(call)
	}
}
