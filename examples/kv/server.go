package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/drover-dev/drover/rpcq"
)

// ServiceName is the rpcq service: rpcq.KV.Put, rpcq.KV.Append, rpcq.KV.Get.
const ServiceName = "KV"

// PutArgs are Put's arguments.
type PutArgs struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AppendArgs are Append's arguments.
type AppendArgs struct {
	Key string `json:"key"`
	Arg string `json:"arg"`
}

// GetArgs are Get's arguments: {"key":"k"}. Get also takes the key alone,
// as a string ("k"), which is what Client.Get sends.
type GetArgs struct {
	Key string `json:"key"`
}

// getFields is GetArgs without its decoders, for them to decode into.
type getFields GetArgs

// UnmarshalJSON reads {"key":"k"} or "k".
func (a *GetArgs) UnmarshalJSON(data []byte) error {
	if d := bytes.TrimLeft(data, " \t\r\n"); len(d) > 0 && d[0] == '"' {
		return json.Unmarshal(data, &a.Key)
	}
	return json.Unmarshal(data, (*getFields)(a))
}

// DecodeMsgpack reads a map with the key, or the key alone as a string.
func (a *GetArgs) DecodeMsgpack(dec *msgpack.Decoder) error {
	c, err := dec.PeekCode()
	if err != nil {
		return err
	}
	if msgpcode.IsString(c) {
		a.Key, err = dec.DecodeString()
		return err
	}
	return dec.Decode((*getFields)(a))
}

// Empty is the reply of Put.
type Empty struct{}

// Options tune a Server. Zero fields take their defaults.
type Options struct {
	// ClientLease is how long an idle client's completion records are
	// kept (default rpcq.DefaultClientLease).
	ClientLease time.Duration
}

// Server holds the data and the completion records, in memory and in the
// log of its directory. Its methods are the service's; it is safe for
// concurrent use.
type Server struct {
	mu    sync.Mutex // orders changes: the log's order is the data's
	data  map[string]string
	log   *appendLog
	table *rpcq.MemoryTable
}

// Open replays dir's log, creating it if there is none, and returns the
// server it describes.
func Open(dir string, opts Options) (*Server, error) {
	s := &Server{data: map[string]string{}}
	var restoreErr error
	l, err := openLog(dir, time.Now().UnixNano(), func(r *record) error {
		if r.Since != 0 {
			s.table = rpcq.NewMemoryTable(time.Unix(0, r.Since), opts.ClientLease)
			return nil
		}
		if s.table == nil {
			return fmt.Errorf("kv: log in %s does not begin with its start", dir)
		}
		s.apply(r)
		if id, ok := r.call(); ok {
			restoreErr = s.table.Restore(id, r.Ack, rpcq.Reply{Body: r.Reply, JSON: r.JSON}, time.Unix(0, r.At))
		}
		return restoreErr
	})
	if err != nil {
		return nil, fmt.Errorf("kv: open log: %w", err)
	}
	s.log = l
	return s, nil
}

// Serve starts the service on nc, with Put and Append in mode (AtMostOnce
// or ExactlyOnce) and Get read-only. cfg's Name, Modes and Table are set
// here.
func (s *Server) Serve(nc *nats.Conn, mode rpcq.Mode, cfg rpcq.ServerConfig) (*rpcq.Server, error) {
	if mode != rpcq.AtMostOnce && mode != rpcq.ExactlyOnce {
		return nil, fmt.Errorf("kv: mode %v: want at-most-once or exactly-once", mode)
	}
	cfg.Name = ServiceName
	cfg.Modes = map[string]rpcq.Mode{"Put": mode, "Append": mode, "Get": rpcq.ReadOnly}
	cfg.Table = s.table
	srv, err := rpcq.NewServer(nc, cfg)
	if err != nil {
		return nil, err
	}
	if err := srv.Register(s); err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return srv, nil
}

// Put sets key to value.
func (s *Server) Put(ctx context.Context, args PutArgs, reply *Empty) error {
	return s.change(ctx, &record{Op: "put", Key: args.Key, Value: args.Value}, reply)
}

// Append appends arg to key's value and returns the old value.
func (s *Server) Append(ctx context.Context, args AppendArgs, old *string) error {
	return s.change(ctx, &record{Op: "append", Key: args.Key, Value: args.Arg}, old)
}

// Get returns the value of args.Key, "" if it has none.
func (s *Server) Get(ctx context.Context, args GetArgs, value *string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*value = s.data[args.Key]
	return nil
}

// change logs r, with the call's completion record and reply, then applies
// it. The log comes first: a change that is not durable never shows.
func (s *Server) change(ctx context.Context, r *record, reply any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Op == "append" {
		*reply.(*string) = s.data[r.Key]
	}
	if info, ok := rpcq.CallInfoFrom(ctx); ok {
		body, err := info.Codec.Marshal(reply)
		if err != nil {
			return err
		}
		r.Client, r.Seq, r.Ack = info.ID.Client, info.ID.Seq, info.Ack
		r.Reply, r.JSON = body, info.Codec == rpcq.JSON
	}
	r.At = time.Now().UnixNano()
	if err := s.log.append(r); err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	s.apply(r)
	return nil
}

// apply makes r's change to the data.
func (s *Server) apply(r *record) {
	switch r.Op {
	case "put":
		s.data[r.Key] = r.Value
	case "append":
		s.data[r.Key] += r.Value
	}
}

// Close closes the log.
func (s *Server) Close() error { return s.log.close() }
