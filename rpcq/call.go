package rpcq

import (
	"context"
	"strconv"
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

	subject string
	token   string
	seq     uint64
	mode    Mode
	body    []byte
	codec   Codec
	ctx     context.Context

	stopWatch func() bool        // stops the context watch
	cancel    context.CancelFunc // releases a deadline the client added
	timer     *time.Timer        // the next resend
	noResp    int                // "not run" answers so far
	notRun    bool               // the latest attempt was answered "not run"
	probed    bool               // the unknown-method probe was sent

	msg      *nats.Msg   // the reply
	onDone   func(*Call) // how completion is delivered
	finished bool        // guarded by the client's mu
}

// header builds the request headers of the call's next attempt.
func (call *Call) header(client string) nats.Header {
	h := nats.Header{
		HeaderContentType: {call.codec.ContentType()},
		HeaderID:          {client + "-" + formatUint(call.seq)},
		HeaderClient:      {client},
		HeaderSeq:         {formatUint(call.seq)},
		HeaderAttempt:     {formatUint(uint64(call.Attempts))},
	}
	if deadline, ok := call.ctx.Deadline(); ok {
		h[HeaderDeadline] = []string{time.Until(deadline).String()}
	}
	return h
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

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }
