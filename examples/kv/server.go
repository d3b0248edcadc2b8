package kv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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

// DefaultCompactSlack is Options.CompactSlack's default.
const DefaultCompactSlack = 1 << 20

// Options tune a Server. Zero fields take their defaults.
type Options struct {
	// ClientLease is how long an idle client's completion records are
	// kept (default rpcq.DefaultClientLease).
	ClientLease time.Duration
	// CompactSlack is how far the log may grow beyond twice its size
	// after its last compaction before it is compacted again (default
	// DefaultCompactSlack): its size stays within twice the live data
	// plus this.
	CompactSlack int64
	// Logger reports compactions that failed (default slog.Default()).
	Logger *slog.Logger
}

// Server holds the data and the completion records, in memory and in the
// log of its directory. Its methods are the service's; it is safe for
// concurrent use.
type Server struct {
	opts Options

	mu         sync.Mutex        // orders changes: the log's order is the data's
	data       map[string][]byte // each value only grows in place or is replaced, so a prefix handed out never changes
	log        *appendLog
	since      int64 // when the table began, Unix nanoseconds
	table      savedTable
	unfinished map[rpcq.RequestID]unfinished
}

// Open replays dir's log, creating it if there is none, and returns the
// server it describes.
func Open(dir string, opts Options) (*Server, error) {
	if opts.CompactSlack < 0 {
		return nil, fmt.Errorf("kv: %w: negative CompactSlack", rpcq.ErrInvalidConfig)
	}
	opts.CompactSlack = cmp.Or(opts.CompactSlack, DefaultCompactSlack)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, data: map[string][]byte{}, unfinished: map[rpcq.RequestID]unfinished{}}
	l, err := openLog(dir, time.Now().UnixNano(), s.replay)
	if err != nil {
		return nil, fmt.Errorf("kv: open log %s: %w", dir, err)
	}
	s.log = l
	return s, nil
}

// replay applies one record of the log on open.
func (s *Server) replay(r *record) error {
	if r.Op == opSince {
		s.since = r.Since
		s.table = savedTable{MemoryTable: rpcq.NewMemoryTable(time.Unix(0, r.Since), s.opts.ClientLease), s: s}
		return nil
	}
	if s.table.MemoryTable == nil {
		return fmt.Errorf("log does not begin with its start")
	}
	switch r.Op {
	case opPut, opAppend:
		old := s.apply(r)
		if id, ok := r.call(); ok {
			return s.table.Restore(id, r.Ack, savedReply(r.Op, old, r.JSON), time.Unix(0, r.At))
		}
	case opClient:
		return s.table.Restore(rpcq.RequestID{Client: r.Client}, r.Ack, rpcq.Reply{}, time.Unix(0, r.At))
	case opSaved:
		reply := rpcq.Reply{Code: r.Code, Message: r.Msg, Body: r.Body, JSON: r.JSON}
		if r.Ref {
			v := s.data[r.Key]
			if r.N < 0 || r.N > len(v) {
				return fmt.Errorf("saved reply of call %d of client %s refers to %d bytes of a value of %d", r.Seq, r.Client, r.N, len(v))
			}
			reply = savedReply(opAppend, v[:r.N:r.N], r.JSON)
		}
		return s.table.Restore(rpcq.RequestID{Client: r.Client, Seq: r.Seq}, r.Ack, reply, time.Unix(0, r.At))
	default:
		return fmt.Errorf("record of unknown kind %q", r.Op)
	}
	return nil
}

// Serve starts the service on nc, with Put and Append in mode (AtMostOnce
// or ExactlyOnce) and Get read-only. cfg's Name, Modes and Table are set
// here, and SeparateLargeReplies: values of megabytes go out as replies,
// and must not leave their size in the connection's buffer.
func (s *Server) Serve(nc *nats.Conn, mode rpcq.Mode, cfg rpcq.ServerConfig) (*rpcq.Server, error) {
	if mode != rpcq.AtMostOnce && mode != rpcq.ExactlyOnce {
		return nil, fmt.Errorf("kv: mode %v: want at-most-once or exactly-once", mode)
	}
	cfg.Name = ServiceName
	cfg.Modes = map[string]rpcq.Mode{"Put": mode, "Append": mode, "Get": rpcq.ReadOnly}
	cfg.Table = &s.table
	cfg.SeparateLargeReplies = true
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
	_, err := s.change(ctx, &record{Op: opPut, Key: args.Key, Value: args.Value})
	return err
}

// Append appends arg to key's value and returns the old value.
func (s *Server) Append(ctx context.Context, args AppendArgs, old *string) error {
	v, err := s.change(ctx, &record{Op: opAppend, Key: args.Key, Value: args.Arg})
	*old = string(v)
	return err
}

// Get returns the value of args.Key, "" if it has none.
func (s *Server) Get(ctx context.Context, args GetArgs, value *string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*value = string(s.data[args.Key])
	return nil
}

// change logs r, with the call's completion record, then applies it and
// returns the key's old value. The log comes first: a change that is not
// durable never shows.
func (s *Server) change(ctx context.Context, r *record) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, isCall := rpcq.CallInfoFrom(ctx)
	if isCall {
		r.Client, r.Seq, r.Ack, r.JSON = info.ID.Client, info.ID.Seq, info.Ack, info.Codec == rpcq.JSON
	}
	r.At = time.Now().UnixNano()
	if err := s.log.append(r); err != nil {
		return nil, fmt.Errorf("kv: %w", err)
	}
	old := s.apply(r)
	if isCall {
		s.unfinished[info.ID] = unfinished{ack: r.Ack, at: r.At, reply: savedReply(r.Op, old, r.JSON)}
	}
	s.compactIfDue()
	return old, nil
}

// apply makes r's change to the data and returns the key's old value.
// An Append's old value is taken from the new value's array, which begins
// with it: an array the append outgrew is not kept alive by the reply.
func (s *Server) apply(r *record) []byte {
	old := s.data[r.Key]
	n := len(old)
	switch r.Op {
	case opPut:
		s.data[r.Key] = []byte(r.Value)
	case opAppend:
		v := append(old, r.Value...)
		s.data[r.Key], old = v, v
	}
	if n == 0 {
		return nil // an empty slice of the array would keep it alive
	}
	return old[:n:n]
}

// Close closes the log.
func (s *Server) Close() error { return s.log.close() }
