package rpcq

import (
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// detached answers a request after its micro handler has returned. micro
// records a handler's error reply in its request when the handler calls
// Error, and reads it when the handler returns, so a reply sent later
// goes out on the connection instead, with the headers micro would give
// it.
type detached struct {
	micro.Request
	nc *nats.Conn
}

// Respond sends a reply.
func (d detached) Respond(data []byte, opts ...micro.RespondOpt) error {
	return d.publish(&nats.Msg{Data: data}, opts)
}

// Error sends an error reply as micro.Request's Error does.
func (d detached) Error(code, description string, data []byte, opts ...micro.RespondOpt) error {
	m := &nats.Msg{Data: data, Header: nats.Header{
		micro.ErrorHeader:     {description},
		micro.ErrorCodeHeader: {code},
	}}
	return d.publish(m, opts)
}

func (d detached) publish(m *nats.Msg, opts []micro.RespondOpt) error {
	if d.Reply() == "" {
		return nats.ErrMsgNoReply
	}
	for _, opt := range opts {
		opt(m)
	}
	m.Subject = d.Reply()
	return d.nc.PublishMsg(m)
}
