package kv

import (
	"context"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/rpcq"
)

// Client calls the KV service, retrying as its mode requires.
type Client struct {
	rpc *rpcq.Client
}

// NewClient returns a client whose Put and Append use mode (AtMostOnce:
// one send; ExactlyOnce: retried until answered or ctx ends) and whose
// Get is retried as read-only. cfg.Modes is set here.
func NewClient(nc *nats.Conn, mode rpcq.Mode, cfg rpcq.ClientConfig) (*Client, error) {
	cfg.Modes = map[string]rpcq.Mode{
		ServiceName + ".Put":    mode,
		ServiceName + ".Append": mode,
		ServiceName + ".Get":    rpcq.ReadOnly,
	}
	c, err := rpcq.NewClient(nc, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{rpc: c}, nil
}

// Put sets key to value.
func (c *Client) Put(ctx context.Context, key, value string) error {
	return c.rpc.Call(ctx, ServiceName+".Put", PutArgs{Key: key, Value: value}, nil)
}

// Append appends arg to key's value and returns the old value.
func (c *Client) Append(ctx context.Context, key, arg string) (string, error) {
	var old string
	err := c.rpc.Call(ctx, ServiceName+".Append", AppendArgs{Key: key, Arg: arg}, &old)
	return old, err
}

// Get returns key's value. It sends the key alone, the form every
// version of the server takes.
func (c *Client) Get(ctx context.Context, key string) (string, error) {
	var value string
	err := c.rpc.Call(ctx, ServiceName+".Get", key, &value)
	return value, err
}

// Close closes the client; nc stays open.
func (c *Client) Close() error { return c.rpc.Close() }
