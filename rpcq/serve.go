package rpcq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// serve runs one request to m and answers it. It runs on the endpoint's
// subscription goroutine, so micro's stats time the whole call, except
// for a call through a table that waits on I/O, which it hands to a
// runner (see ServerConfig.TableWaits). A request to the method's caller
// endpoint names its caller after methodSubject; methodSubject is empty
// for the method's own endpoint.
func (s *Server) serve(m *method, req micro.Request, methodSubject string) {
	start := time.Now() // read once for the metrics, the deadline and the table
	answer := func(r Reply) {
		s.answer(req, r)
		s.metrics.observe(s.cfg.Name, m, r.Code, start)
	}
	h := nats.Header(req.Headers())
	codec := codecOf(h, req.Data())
	if !s.enter() {
		answer(errorReply(codec, Errorf(CodeUnavailable, "service %s is shutting down", s.cfg.Name)))
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			s.inflight.Done()
		}
	}()

	rh, err := parseRequestHeader(h.Get(HeaderRequest))
	if err == nil && m.mode == AtMostOnce {
		err = s.sentSinceStart(rh.sent)
	}
	var caller string
	if err == nil && methodSubject != "" {
		caller, err = callerOf(req.Subject(), methodSubject)
	}
	var ctx context.Context
	if err == nil {
		ctx, err = s.callContext(rh, caller, start)
	}
	if err != nil {
		answer(errorReply(codec, err))
		return
	}
	if rh.client == "" || !m.once {
		answer(s.runHeld(ctx, m, codec, req.Data()))
		release(ctx)
		return
	}
	id := RequestID{Client: rh.client, Seq: rh.seq}
	if s.overlap == nil {
		s.runOnce(ctx, m, codec, req.Data(), id, rh.ack, start, answer)
		release(ctx)
		return
	}
	s.overlap <- struct{}{} // waits while as many calls wait on the table
	handedOff = true
	s.runWaiting(waitingCall{ctx: ctx, m: m, req: req, codec: codec, id: id, ack: rh.ack, start: start})
}

// release ends a handler's context once the call is over.
func release(ctx context.Context) {
	if dc, ok := ctx.(*deadlineContext); ok {
		dc.release()
	}
}

// runHeld is run in one of the server's Concurrency slots.
func (s *Server) runHeld(ctx context.Context, m *method, codec Codec, body []byte) Reply {
	s.slots <- struct{}{}
	defer func() { <-s.slots }()
	return s.run(ctx, m, codec, body)
}

// sentSinceStart refuses an at-most-once request sent before the server
// started, by the client's clock: its caller may have given up on it
// long ago, and a restarted server must not run it. Clocks that disagree
// by d let through requests sent up to d before the start, and refuse,
// once, those sent up to d after it; the client then resends under a new
// ID. A request that does not say when it was sent (from a shell) is not
// judged.
func (s *Server) sentSinceStart(sent int64) error {
	if sent != 0 && sent < s.started {
		return Errorf(CodeGone, "request sent %v before service %s started; not run", time.Duration(s.started-sent), s.cfg.Name)
	}
	return nil
}

// run invokes the method and makes its outcome a reply.
func (s *Server) run(ctx context.Context, m *method, codec Codec, body []byte) Reply {
	out, err := s.invoke(ctx, m, codec, body)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = Errorf(CodeDeadline, "deadline exceeded while %s.%s ran", s.cfg.Name, m.name)
	}
	if err != nil {
		return errorReply(codec, err)
	}
	if err := s.fits(len(out)); err != nil {
		// Said here, before the table saves it, so that a duplicate hears
		// the same: the call ran, and is not run again.
		return errorReply(codec, Errorf(CodeReplyTooLarge, "%s.%s ran, but %v", s.cfg.Name, m.name, err))
	}
	return Reply{Body: out, JSON: codec == JSON}
}

// fits reports an error if a successful reply of n bytes cannot be sent.
func (s *Server) fits(n int) error {
	if limit := s.nc.MaxPayload(); int64(n+replyHeaderRoom) > limit {
		return fmt.Errorf("its reply of %d bytes exceeds the max payload of %d", n, limit)
	}
	return nil
}

// runOnce runs the call, which arrived at now, unless the duplicate table
// has seen it, and answers it: a duplicate gets the saved reply, or waits
// for the run still under way. A call that ran is answered before its
// reply is saved (see finish).
func (s *Server) runOnce(ctx context.Context, m *method, codec Codec, body []byte, id RequestID, ack uint64, now time.Time, answer func(Reply)) {
	r, ran := s.replyOnce(ctx, m, codec, body, id, ack, now)
	answer(r)
	if ran {
		s.finish(ctx, id, r)
	}
}

// replyOnce is the reply to the call, and whether it ran to make it.
func (s *Server) replyOnce(ctx context.Context, m *method, codec Codec, body []byte, id RequestID, ack uint64, now time.Time) (Reply, bool) {
	for ; ; now = time.Now() {
		verdict, saved, wait, err := s.table.Begin(ctx, id, ack, now)
		if err != nil {
			var re *RemoteError
			if !errors.As(err, &re) { // the table is unreachable: nothing ran
				err = Errorf(CodeUnavailable, "duplicate table: %v", err)
			}
			return errorReply(codec, err), false
		}
		switch verdict {
		case Run:
			info := CallInfo{ID: id, Ack: ack, Codec: codec}
			if dc, ok := ctx.(*deadlineContext); ok {
				dc.info, dc.hasInfo = info, true // saves a context per call
			} else {
				ctx = context.WithValue(ctx, callInfoKey{}, info)
			}
			return s.runHeld(ctx, m, codec, body), true
		case Answered:
			s.metrics.duplicate(s.cfg.Name, m)
			return saved, false
		case Stale:
			return errorReply(codec, Errorf(CodeGone, "call %d of client %s is stale: the client expired, predates this table, or acknowledged the call; not run now, and the outcome of any earlier send is unknown", id.Seq, id.Client)), false
		case Forgotten:
			return errorReply(codec, Errorf(CodeOutcomeUnknown, "call %d of client %s was run before, or may have been, and its saved reply has expired: the outcome is unknown; not run again", id.Seq, id.Client)), false
		case Running:
			if wait == nil { // running elsewhere: the client asks again later
				return errorReply(codec, Errorf(CodeDuplicateRunning, "call %d of client %s is still running", id.Seq, id.Client)), false
			}
			select {
			case <-wait: // ask again: answered now, or forgotten
			case <-ctx.Done():
				return errorReply(codec, Errorf(CodeDuplicateRunning, "call %d of client %s is still running", id.Seq, id.Client)), false
			}
		}
	}
}

// finish saves the reply of a call that ran, once it is sent: a caller
// that has its reply never asks for the saved one, and one that lost it
// asks again no sooner than its first resend, by when the reply is saved
// (unless the server died first, as it might have before sending). The
// call's context may have ended, and the record must be written all the
// same (see Table.Finish).
func (s *Server) finish(ctx context.Context, id RequestID, r Reply) {
	if err := s.table.Finish(ctx, id, r); err != nil {
		s.cfg.Logger.Error("rpcq: saving a reply failed; a duplicate would run again", "service", s.cfg.Name,
			"client", id.Client, "seq", id.Seq, "error", err)
	}
}

// finishTimeout bounds saving a reply in the duplicate table.
const finishTimeout = 5 * time.Second

// callContext is the handler's context for a request that arrived at
// now: the server's, ending at the caller's deadline if the request
// gives one. A request whose deadline has passed is refused.
func (s *Server) callContext(rh requestHeader, caller string, now time.Time) (context.Context, error) {
	if !rh.hasDL {
		if rh.client == "" && caller == "" {
			return s.base, nil
		}
		return &deadlineContext{Context: s.base, caller: caller}, nil // to carry its CallInfo or caller
	}
	if rh.deadline <= 0 {
		return nil, Errorf(CodeDeadline, "deadline passed %v before the call ran", -rh.deadline)
	}
	return &deadlineContext{Context: s.base, deadline: now.Add(rh.deadline), hasDL: true, caller: caller}, nil
}

// invoke runs the method, turning a panic into a CodeInternal error.
func (s *Server) invoke(ctx context.Context, m *method, codec Codec, body []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Logger.Error("rpcq: handler panic", "service", s.cfg.Name, "method", m.name,
				"panic", r, "stack", string(debug.Stack()))
			err = Errorf(CodeInternal, "panic in %s.%s: %v", s.cfg.Name, m.name, r)
		}
	}()
	return m.invoke(ctx, codec, body)
}

// answer sends r: its body, or its error in micro's error headers (and,
// for JSON, a JSON body a shell user can read).
func (s *Server) answer(req micro.Request, r Reply) {
	var opts []micro.RespondOpt
	if r.JSON { // msgpack is what a reply without a Content-Type means
		opts = append(opts, micro.WithHeaders(micro.Headers{HeaderContentType: {ContentTypeJSON}}))
	}
	if r.Code != 0 {
		if r.Code == CodeInternal {
			s.cfg.Logger.Debug("rpcq: call failed", "service", s.cfg.Name, "subject", req.Subject(), "error", r.Message)
		}
		req.Error(strconv.Itoa(r.Code), r.Message, r.Body, opts...)
		return
	}
	err := s.respond(req, r, opts)
	if err == nil {
		return
	}
	// micro flattens the cause into text; judge by size instead. A reply
	// run made is checked there; this is one a table saved when the
	// limit was higher.
	if err := s.fits(len(r.Body)); err != nil {
		codec := Msgpack
		if r.JSON {
			codec = JSON
		}
		s.answer(req, errorReply(codec, Errorf(CodeReplyTooLarge, "the call ran, but %v", err)))
		return
	}
	s.cfg.Logger.Warn("rpcq: reply not sent", "service", s.cfg.Name, "subject", req.Subject(), "error", err)
}

// respond sends a successful reply: a large one on the bulk connection
// if the service asked for one (SeparateLargeReplies), or on the
// service's if that fails.
func (s *Server) respond(req micro.Request, r Reply, opts []micro.RespondOpt) error {
	if !s.cfg.SeparateLargeReplies || len(r.Body) < bulkReplySize || req.Reply() == "" {
		if len(opts) == 0 && req.Reply() != "" && s.publishReply(req.Reply(), r.Body) == nil {
			return nil
		}
		// micro's Respond sends it again if need be, and counts the
		// error in the endpoint's stats if it fails again.
		return req.Respond(r.Body, opts...)
	}
	m := &nats.Msg{Subject: req.Reply(), Data: r.Body}
	if r.JSON {
		m.Header = nats.Header{HeaderContentType: {ContentTypeJSON}}
	}
	err := s.bulk.publish(m)
	if err == nil || errors.Is(err, nats.ErrMaxPayload) {
		return err
	}
	s.cfg.Logger.Debug("rpcq: large reply sent on the service's connection", "service", s.cfg.Name, "error", err)
	return req.Respond(r.Body, opts...)
}

// replyPool holds the messages of successful replies without headers.
// micro's Respond allocates a message per reply; nats.go has encoded a
// message when PublishMsg returns, so one can be reused at once.
var replyPool = sync.Pool{New: func() any { return new(nats.Msg) }}

// publishReply sends body to subject on the service's connection, the
// one micro received the request on: a reply's permission
// (allow_responses) is that connection's.
func (s *Server) publishReply(subject string, body []byte) error {
	m := replyPool.Get().(*nats.Msg)
	m.Subject, m.Data = subject, body
	err := s.nc.PublishMsg(m)
	*m = nats.Msg{}
	replyPool.Put(m)
	return err
}

// replyHeaderRoom is more than the headers a successful reply carries.
const replyHeaderRoom = 64

// errorReply is err as the client will see it: a *RemoteError keeps its
// code, anything else is CodeInternal.
func errorReply(codec Codec, err error) Reply {
	re := asRemoteError(err)
	r := Reply{Code: re.Code, Message: re.Message, JSON: codec == JSON}
	if r.JSON {
		r.Body, _ = json.Marshal(map[string]any{"error": map[string]any{"code": re.Code, "message": re.Message}})
	}
	return r
}

// asRemoteError is err as the client will see it: a *RemoteError a handler
// returned keeps its code, anything else is CodeInternal.
func asRemoteError(err error) *RemoteError {
	var re *RemoteError
	if errors.As(err, &re) {
		if re.Message == "" {
			return &RemoteError{Code: re.Code, Message: fmt.Sprintf("error %d", re.Code)}
		}
		return re
	}
	msg := err.Error()
	if msg == "" {
		msg = "error"
	}
	return &RemoteError{Code: CodeInternal, Message: msg}
}
