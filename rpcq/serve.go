package rpcq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// serve runs one request to m and answers it. It runs on the endpoint's
// subscription goroutine, so micro's stats time the whole call.
func (s *Server) serve(m *method, req micro.Request) {
	h := nats.Header(req.Headers())
	codec := codecOf(h, req.Data())
	if !s.enter() {
		s.replyError(req, codec, Errorf(CodeUnavailable, "service %s is shutting down", s.cfg.Name))
		return
	}
	defer s.inflight.Done()

	ctx, err := s.callContext(h)
	if err != nil {
		s.replyError(req, codec, err)
		return
	}
	if dc, ok := ctx.(*deadlineContext); ok {
		defer dc.release()
	}
	body, err := s.invoke(ctx, m, codec, req.Data())
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = Errorf(CodeDeadline, "deadline exceeded while %s.%s ran", s.cfg.Name, m.name)
	}
	if err != nil {
		s.replyError(req, codec, err)
		return
	}
	s.reply(req, codec, body)
}

// callContext is the handler's context: the server's, ending at the
// caller's deadline. A request whose deadline has passed is refused.
func (s *Server) callContext(h nats.Header) (context.Context, error) {
	v := h.Get(HeaderDeadline)
	if v == "" {
		return s.base, nil
	}
	left, err := time.ParseDuration(v)
	if err != nil {
		return nil, Errorf(CodeBadRequest, "%s %q: %v", HeaderDeadline, v, err)
	}
	if left <= 0 {
		return nil, Errorf(CodeDeadline, "deadline passed %v before the call ran", -left)
	}
	return &deadlineContext{Context: s.base, deadline: time.Now().Add(left)}, nil
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

func (s *Server) reply(req micro.Request, codec Codec, body []byte) {
	var opts []micro.RespondOpt
	if codec == JSON { // msgpack is what a reply without a Content-Type means
		opts = append(opts, micro.WithHeaders(micro.Headers{HeaderContentType: {ContentTypeJSON}}))
	}
	err := req.Respond(body, opts...)
	if err == nil {
		return
	}
	// micro flattens the cause into text; judge by size instead.
	if int64(len(body)+replyHeaderRoom) > s.nc.MaxPayload() {
		s.replyError(req, codec, Errorf(CodeInternal, "reply of %d bytes exceeds the max payload of %d", len(body), s.nc.MaxPayload()))
		return
	}
	s.cfg.Logger.Warn("rpcq: reply not sent", "service", s.cfg.Name, "subject", req.Subject(), "error", err)
}

// replyHeaderRoom is more than the headers a successful reply carries.
const replyHeaderRoom = 64

// replyError answers with err's code and message in micro's error headers
// and, for a JSON request, a JSON body a shell user can read.
func (s *Server) replyError(req micro.Request, codec Codec, err error) {
	re := asRemoteError(err)
	var body []byte
	var opts []micro.RespondOpt
	if codec == JSON {
		body, _ = json.Marshal(map[string]any{"error": map[string]any{"code": re.Code, "message": re.Message}})
		opts = append(opts, micro.WithHeaders(micro.Headers{HeaderContentType: {ContentTypeJSON}}))
	}
	if re.Code == CodeInternal {
		s.cfg.Logger.Debug("rpcq: call failed", "service", s.cfg.Name, "subject", req.Subject(), "error", re.Message)
	}
	req.Error(strconv.Itoa(re.Code), re.Message, body, opts...)
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
