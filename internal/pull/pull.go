// Package pull makes pulls from a JetStream pull consumer one message at
// a time, as a slot of a worker takes one task at a time: New makes a
// Puller on a consumer, Pull waits for the next message, Ahead makes the
// next pull early, Close drops what the Puller holds. A Puller is used by
// one goroutine at a time; the messages it returns are safe for
// concurrent use.
package pull

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Puller makes a slot's pulls from one consumer, one task at a time, on
// an inbox subscription it keeps from one pull to the next: a pull is a
// single request, where jetstream's Next subscribes an inbox and
// unsubscribes it again around each, two more protocol operations and two
// changes to the server's subscriptions for every task; and the message
// comes from the connection's reader straight to the goroutine that
// pulls, where Next passes it through a goroutine of its own.
//
// A pull that ends with its task, or with the server's word that none
// came before it expired, has left nothing on the server, and the next
// pull takes the same inbox. A pull that ends any other way (its context
// ended, its heartbeats stopped, an error) may still be waiting on the
// server: the Puller drops its inbox, and the server, finding no interest
// in the pull's reply subject, drops the pull rather than hand it a task
// that nobody waits for, as it did when Next unsubscribed. The next pull
// takes a new inbox.
type Puller struct {
	nc      *nats.Conn
	subject string // the consumer's MSG.NEXT request subject
	inbox   string
	sub     *nats.Subscription // nil until a pull needs it, and after it is dropped
	msgs    chan *nats.Msg     // sub's messages
	req     []byte             // the request, rebuilt by each pull
	ahead   bool               // a pull was made ahead (Ahead) and is not yet awaited
}

// pullerBuffer is how many messages a Puller's inbox holds: a pull is
// answered by one task or one status, after heartbeats.
const pullerBuffer = 16

// New returns a Puller on consumer c, whose stream js reaches.
func New(js jetstream.JetStream, c jetstream.Consumer) *Puller {
	info := c.CachedInfo()
	prefix := cmp.Or(js.Options().APIPrefix, jetstream.DefaultAPIPrefix)
	return &Puller{nc: js.Conn(), subject: prefix + "CONSUMER.MSG.NEXT." + info.Stream + "." + info.Name}
}

// Pull waits for one task, for at most as long as ctx allows (which must
// have a deadline), with the server saying every heartbeat that the pull
// still waits; a heartbeat of 0 asks for none, and the pull then waits
// until the server ends it or ctx ends. The errors are those of
// jetstream's Next: nats.ErrTimeout when the pull expired without a task,
// jetstream.ErrNoHeartbeat when two heartbeats were missed, ctx's error
// when it ended first.
func (p *Puller) Pull(ctx context.Context, heartbeat time.Duration) (jetstream.Msg, error) {
	if !p.ahead {
		expires := pullDefaultExpiry
		if deadline, ok := ctx.Deadline(); ok {
			expires = ServerExpiry(time.Until(deadline))
		}
		if expires <= 2*heartbeat {
			return nil, context.DeadlineExceeded
		}
		if err := p.request(expires, heartbeat); err != nil {
			return nil, err
		}
	}
	p.ahead = false
	return p.await(ctx, heartbeat)
}

// ServerExpiry is the expiry of a pull the client waits remaining for:
// the server ends the pull a little before the client gives up, as
// jetstream's FetchContext has it.
func ServerExpiry(remaining time.Duration) time.Duration {
	return remaining - min(remaining/10, time.Second)
}

// Ahead makes the slot's next pull now, for a Pull within expires to
// await: a slot whose task is committing has its next task on the way
// while the commit's answer is. It holds that task for the commit's round
// trip at most, and the lease runs from its delivery.
func (p *Puller) Ahead(expires, heartbeat time.Duration) {
	if p.ahead {
		return
	}
	if p.request(expires, heartbeat) == nil {
		p.ahead = true
	}
}

// request sends a pull for one task that the server ends after expires.
func (p *Puller) request(expires, heartbeat time.Duration) error {
	if p.sub == nil {
		p.inbox = p.nc.NewInbox()
		p.msgs = make(chan *nats.Msg, pullerBuffer)
		sub, err := p.nc.ChanSubscribe(p.inbox, p.msgs)
		if err != nil {
			return err
		}
		p.sub = sub
	}
	p.handBack() // nothing should be there; a stray task goes back to the queue
	p.req = append(p.req[:0], `{"batch":1,"expires":`...)
	p.req = strconv.AppendInt(p.req, int64(expires), 10)
	p.req = append(p.req, `,"idle_heartbeat":`...)
	p.req = strconv.AppendInt(p.req, int64(heartbeat), 10)
	p.req = append(p.req, '}')
	if err := p.nc.PublishRequest(p.subject, p.inbox, p.req); err != nil {
		p.drop()
		return err
	}
	return nil
}

// await waits for the answer to the pull request made last.
func (p *Puller) await(ctx context.Context, heartbeat time.Duration) (jetstream.Msg, error) {
	var missedC <-chan time.Time // none without heartbeats
	var missed *time.Timer
	if heartbeat > 0 {
		missed = time.NewTimer(2 * heartbeat)
		defer missed.Stop()
		missedC = missed.C
	}
	for {
		select {
		case msg := <-p.msgs:
			status, err := pullStatus(msg)
			switch {
			case status == "":
				return &pulled{msg: msg, nc: p.nc}, nil
			case status == statusHeartbeat:
				if missed != nil {
					missed.Reset(2 * heartbeat)
				}
				continue
			case errors.Is(err, nats.ErrTimeout):
				return nil, err // the pull is over on the server too
			}
			p.drop()
			return nil, err
		case <-missedC:
			p.drop()
			return nil, jetstream.ErrNoHeartbeat
		case <-ctx.Done():
			p.drop()
			return nil, ctx.Err()
		}
	}
}

// pullDefaultExpiry is a pull's expiry when its context has no deadline.
const pullDefaultExpiry = 30 * time.Second

// Close drops the Puller's inbox; a task that came to it goes back to
// the queue at once.
func (p *Puller) Close() { p.drop() }

// drop unsubscribes the inbox, so that the server drops a pull that may
// still wait on it, and hands back any task that came meanwhile.
func (p *Puller) drop() {
	p.ahead = false
	if p.sub == nil {
		return
	}
	p.sub.Unsubscribe()
	p.sub = nil
	p.handBack()
}

// handBack hands back the tasks waiting in the inbox and drops the rest.
func (p *Puller) handBack() {
	for {
		select {
		case msg := <-p.msgs:
			if status, _ := pullStatus(msg); status == "" && msg.Reply != "" {
				p.nc.Publish(msg.Reply, []byte("-NAK"))
			}
		default:
			return
		}
	}
}

// The statuses a pull's answers may carry.
const (
	statusHeartbeat = "100"
	statusNoMsgs    = "404"
	statusTimeout   = "408"
)

// pullStatus reads a message that answers a pull: a task (status "") or
// a status, with the error it means; nil for a heartbeat.
func pullStatus(msg *nats.Msg) (string, error) {
	if len(msg.Data) > 0 || len(msg.Header) == 0 {
		return "", nil
	}
	status := msg.Header.Get("Status")
	switch status {
	case "":
		return "", nil
	case statusHeartbeat:
		return status, nil
	case statusNoMsgs, statusTimeout:
		return status, nats.ErrTimeout
	case "503":
		return status, nats.ErrNoResponders
	}
	return status, fmt.Errorf("nats: %s %s", status, msg.Header.Get("Description"))
}

// pulled is a task a Puller received: a jetstream.Msg over the
// *nats.Msg. Acknowledgements are as jetstream's: once one other than
// InProgress has been sent, the others fail with
// jetstream.ErrMsgAlreadyAckd. Safe for concurrent use.
type pulled struct {
	msg *nats.Msg
	nc  *nats.Conn

	mu    sync.Mutex
	acked bool
}

var _ jetstream.Msg = (*pulled)(nil)

func (m *pulled) Metadata() (*jetstream.MsgMetadata, error) {
	md, err := m.msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", jetstream.ErrNotJSMessage, err)
	}
	return &jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Consumer: md.Sequence.Consumer, Stream: md.Sequence.Stream},
		NumDelivered: md.NumDelivered,
		NumPending:   md.NumPending,
		Timestamp:    md.Timestamp,
		Stream:       md.Stream,
		Consumer:     md.Consumer,
		Domain:       md.Domain,
	}, nil
}

func (m *pulled) Data() []byte         { return m.msg.Data }
func (m *pulled) Headers() nats.Header { return m.msg.Header }
func (m *pulled) Subject() string      { return m.msg.Subject }
func (m *pulled) Reply() string        { return m.msg.Reply }
func (m *pulled) Ack() error           { return m.ack(nil, []byte("+ACK"), true) }
func (m *pulled) Nak() error           { return m.ack(nil, []byte("-NAK"), true) }
func (m *pulled) InProgress() error    { return m.ack(nil, []byte("+WPI"), false) }
func (m *pulled) Term() error          { return m.ack(nil, []byte("+TERM"), true) }

func (m *pulled) DoubleAck(ctx context.Context) error {
	return m.ack(ctx, []byte("+ACK"), true)
}

func (m *pulled) NakWithDelay(delay time.Duration) error {
	return m.ack(nil, fmt.Appendf(nil, `-NAK {"delay": %d}`, delay.Nanoseconds()), true)
}

func (m *pulled) TermWithReason(reason string) error {
	return m.ack(nil, []byte("+TERM "+reason), true)
}

// ack sends body to the task's reply subject, and waits for the server's
// answer if ctx is not nil; final marks the task acknowledged.
func (m *pulled) ack(ctx context.Context, body []byte, final bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.msg.Reply == "":
		return jetstream.ErrMsgNoReply
	case m.acked:
		return jetstream.ErrMsgAlreadyAckd
	}
	var err error
	if ctx != nil {
		_, err = m.nc.RequestWithContext(ctx, m.msg.Reply, body)
	} else {
		err = m.nc.Publish(m.msg.Reply, body)
	}
	if err == nil && final {
		m.acked = true
	}
	return err
}
