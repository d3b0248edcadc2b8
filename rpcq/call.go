package rpcq

import (
	"context"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// Call is an RPC in flight or done, as in net/rpc.
type Call struct {
	ServiceMethod string     // "Service.Method"
	Args          any        // the arguments
	Reply         any        // where the reply is decoded
	Error         error      // after completion, the error status
	Done          chan *Call // receives the Call when it completes (Go)
	Attempts      int        // how many times the request was sent

	subject  string
	service  string
	names    [112]byte // backs id and reply, at the call's first numbering
	id       string    // "<client>-<seq>"
	reply    string    // the reply subject: the client's inbox, then seq
	deadline time.Time // when the caller gives up
	mode     Mode
	modeSet  bool // by WithMode
	body     []byte
	codec    Codec
	ctx      context.Context

	stopWatch func() bool // stops the context watch
	timer     *time.Timer // the next resend

	seq        uint64
	client     string   // the client's ID when the call began
	bySeq      callLink // in the client's list of calls in flight
	byDeadline callLink // in the client's expiry queue, on its default Timeout
	noResp     int      // "not run" answers so far
	unanswered int      // resends armed since the last answer that reset the wait (see send)
	sentAs     uint64   // the client's send count at the latest send, to order sends
	notRun     bool     // the latest attempt was answered "not run"
	probed     bool     // the unknown-method probe was sent

	msg      *nats.Msg     // the reply
	wake     chan struct{} // receives one value on completion, for Call
	fn       func(*Call)   // run on completion, for GoFunc
	finished bool          // guarded by the client's mu
}

// outgoing is a request message ready to publish. nats.go encodes a
// message before PublishMsg returns, so outgoing messages are pooled: a
// send allocates only its header's value.
type outgoing struct {
	msg  nats.Msg
	vals [2]string // back the header's value slices
	buf  []byte    // where the Rpcq header is built
}

var outgoingPool = sync.Pool{New: func() any {
	return &outgoing{msg: nats.Msg{Header: make(nats.Header, 2)}}
}}

// outgoing builds the message of the call's next attempt, sent at now,
// with the client's watermark ack; release it once published.
func (call *Call) outgoing(ack uint64, now time.Time) *outgoing {
	o := outgoingPool.Get().(*outgoing)
	o.msg.Subject, o.msg.Reply, o.msg.Data = call.subject, call.reply, call.body
	var sent int64
	if call.mode == AtMostOnce {
		sent = now.UnixNano()
	}
	o.buf = appendRequestHeader(o.buf[:0], call.id, call.deadline.Sub(now), ack, call.mode.once(), sent, call.Attempts)
	// The header's value shares o.buf rather than copy it: PublishMsg has
	// encoded it when it returns, and o.buf is written again only after
	// release.
	o.vals[0] = unsafe.String(unsafe.SliceData(o.buf), len(o.buf))
	h := o.msg.Header
	h[HeaderRequest] = o.vals[0:1:1]
	if codecOf(nil, call.body) != call.codec {
		o.vals[1] = call.codec.ContentType()
		h[HeaderContentType] = o.vals[1:2:2]
	}
	return o
}

func (o *outgoing) release() {
	clear(o.msg.Header)
	o.vals = [2]string{}
	o.msg.Data = nil
	outgoingPool.Put(o)
}

// decode sets call.Error from the reply, decoding it into call.Reply.
func (call *Call) decode() {
	if call.Error == nil && call.msg != nil {
		call.Error = call.result()
	}
}

// result decodes the reply message into the call's Reply, or its error.
func (call *Call) result() error {
	m := call.msg
	if code := m.Header.Get(HeaderErrorCode); code != "" {
		return remoteErrorOf(m.Header)
	}
	if call.Reply == nil || len(m.Data) == 0 {
		return nil
	}
	codec := call.codec
	if ct := m.Header.Get(HeaderContentType); ct != "" {
		codec = codecOf(m.Header, nil)
	}
	if err := codec.Unmarshal(m.Data, call.Reply); err != nil {
		return &DecodeError{ServiceMethod: call.ServiceMethod, Err: err}
	}
	return nil
}
