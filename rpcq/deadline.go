package rpcq

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineContext is a handler's context: the server's, with the caller's
// deadline, the call's CallInfo and its caller. Most handlers never wait on Done, so
// the timer that would close it is made only when Done is first asked
// for; a server answering many small calls saves a timer and two contexts
// per call.
type deadlineContext struct {
	context.Context // the server's: cancelled when Shutdown gives up
	deadline        time.Time
	hasDL           bool // else the caller gave no deadline
	info            CallInfo
	hasInfo         bool   // the call runs through the duplicate table
	caller          string // see CallerFrom; "" for none

	once     sync.Once
	timed    context.Context // made by the first Done
	cancel   context.CancelFunc
	released atomic.Bool // the handler returned: Done is closed, Err says why
}

func (c *deadlineContext) Deadline() (time.Time, bool) { return c.deadline, c.hasDL }

func (c *deadlineContext) Value(key any) any {
	switch key.(type) {
	case callInfoKey:
		if c.hasInfo {
			return c.info
		}
	case callerKey:
		if c.caller != "" {
			return c.caller
		}
	}
	return c.Context.Value(key)
}

func (c *deadlineContext) Done() <-chan struct{} {
	c.once.Do(func() {
		if c.hasDL {
			c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		} else {
			c.timed, c.cancel = context.WithCancel(c.Context)
		}
	})
	if c.timed == nil { // asked after the handler returned
		return closedChan
	}
	return c.timed.Done()
}

func (c *deadlineContext) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if c.hasDL && !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	if c.released.Load() {
		return context.Canceled
	}
	return nil
}

// release ends the context when its handler returns. Err says so before
// Done closes: a context derived from this one reads Err once Done is
// closed, and the context package panics at a nil.
func (c *deadlineContext) release() {
	c.released.Store(true)
	c.once.Do(func() {})
	if c.cancel != nil {
		c.cancel()
	}
}

var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()
