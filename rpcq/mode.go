package rpcq

import "fmt"

// Mode is a method's delivery semantics. The server declares it; the client
// retries accordingly. Every mode retries "no responders", which is always
// safe: nobody received the request.
type Mode int

const (
	// AtMostOnce sends once; a lost reply is a timeout, and the call may
	// or may not have run. It is net/rpc's promise and the default. The
	// server's duplicate table keeps a duplicated request from running
	// twice, and a restarted server from running requests sent before.
	AtMostOnce Mode = iota
	// AtLeastOnce resends until a reply comes or the context ends; the
	// server runs every arrival. For idempotent methods.
	AtLeastOnce
	// ReadOnly is AtLeastOnce for methods that change nothing; they
	// never enter the duplicate table.
	ReadOnly
	// ExactlyOnce resends with the same request ID until a reply comes or
	// the context ends; the server's duplicate table runs each ID once and
	// answers duplicates with the saved reply.
	ExactlyOnce
)

var modeNames = [...]string{"at-most-once", "at-least-once", "read-only", "exactly-once"}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// ParseMode reads a Mode from its String form.
func ParseMode(s string) (Mode, error) {
	for i, name := range modeNames {
		if s == name {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("rpcq: unknown mode %q", s)
}

// retries reports whether the client resends after an attempt gets no reply.
func (m Mode) retries() bool { return m != AtMostOnce }

// once reports whether calls go through the server's duplicate table.
func (m Mode) once() bool { return m == AtMostOnce || m == ExactlyOnce }
