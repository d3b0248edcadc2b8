package rpcq

import (
	"context"
	"strconv"
	"sync"
	"time"

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
	id       string    // "<client>-<seq>", also the reply subject's last token
	reply    string    // the reply subject
	deadline time.Time // when the caller gives up
	mode     Mode
	modeSet  bool // by WithMode
	body     []byte
	codec    Codec
	ctx      context.Context

	stopWatch func() bool // stops the context watch
	timer     *time.Timer // the next resend

	seq        uint64
	client     []string // the client's ID when the call began, as a header value
	bySeq      callLink // in the client's list of calls in flight
	byDeadline callLink // in the client's expiry queue, on its default Timeout
	noResp     int      // "not run" answers so far
	unanswered int      // resends armed since the last answer that reset the wait (see send)
	sentAs     uint64   // the client's send count at the latest send, to order sends
	notRun     bool     // the latest attempt was answered "not run"
	probed     bool     // the unknown-method probe was sent

	msg      *nats.Msg   // the reply
	onDone   func(*Call) // how completion is delivered
	finished bool        // guarded by the client's mu
}

// outgoing is a request message ready to publish. nats.go encodes a
// message before PublishMsg returns, so outgoing messages are pooled: a
// send allocates only the values that change.
type outgoing struct {
	msg  nats.Msg
	vals [7]string // backs the header's value slices
}

var outgoingPool = sync.Pool{New: func() any {
	return &outgoing{msg: nats.Msg{Header: make(nats.Header, 8)}}
}}

// outgoing builds the message of the call's next attempt, with the
// client's watermark ack; release it once published.
func (call *Call) outgoing(ack uint64) *outgoing {
	o := outgoingPool.Get().(*outgoing)
	o.msg.Subject, o.msg.Reply, o.msg.Data = call.subject, call.reply, call.body
	h := o.msg.Header
	o.vals[0], o.vals[1], o.vals[2] = call.id, call.id[len(call.client[0])+1:], time.Until(call.deadline).String()
	h[HeaderID], h[HeaderSeq], h[HeaderDeadline] = o.vals[0:1:1], o.vals[1:2:2], o.vals[2:3:3]
	h[HeaderClient] = call.client
	if call.Attempts > 1 {
		o.vals[3] = strconv.Itoa(call.Attempts)
		h[HeaderAttempt] = o.vals[3:4:4]
	}
	if codecOf(nil, call.body) != call.codec {
		o.vals[4] = call.codec.ContentType()
		h[HeaderContentType] = o.vals[4:5:5]
	}
	if call.mode.once() {
		o.vals[5] = strconv.FormatUint(ack, 10)
		h[HeaderAck] = o.vals[5:6:6]
	}
	if call.mode == AtMostOnce {
		o.vals[6] = strconv.FormatInt(time.Now().UnixNano(), 10)
		h[HeaderSent] = o.vals[6:7:7]
	}
	return o
}

func (o *outgoing) release() {
	clear(o.msg.Header)
	o.vals = [7]string{}
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
