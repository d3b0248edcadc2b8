package rpcq_test

import (
	"bytes"
	"context"
	"net"
	"net/rpc"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// The benchmarks compare rpcq with its baselines in one run, on one
// embedded server, with 128-byte payloads over loopback TCP. Sub-benchmarks
// named baseline-* are what `make bench` divides by.

const payloadSize = 128

var payload = bytes.Repeat([]byte("x"), payloadSize)

// inFlight is how many calls the concurrent benchmarks keep going, and
// manyInFlight how many one client keeps going with Go.
const (
	inFlight     = 64
	manyInFlight = 1024
)

type benchEnv struct {
	b      *brokertest.Server
	raw    *nats.Conn // a client connection for the raw baseline
	client *rpcq.Client
}

// withHeaders is a raw request carrying the header an at-most-once rpcq
// request carries, so that the table separates what the protocol costs
// from what rpcq's code costs.
func withHeaders() *nats.Msg {
	return &nats.Msg{Subject: "raw.echo", Data: payload, Header: nats.Header{
		rpcq.HeaderRequest: {"id=0189a3c5e7f9b2d48c0f3a9e5b7d2f41-123456 d=9999123us a=123455 t=1764910000123456789"},
	}}
}

func setupBench(b *testing.B) *benchEnv {
	b.Helper()
	srv := brokertest.Start(b)
	serverNC := srv.Connect()
	// The raw baseline: a plain subscription that echoes.
	if _, err := serverNC.Subscribe("raw.echo", func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		b.Fatal(err)
	}
	echo := func(ctx context.Context, p []byte) ([]byte, error) { return p, nil }
	rs, err := rpcq.NewServer(serverNC, rpcq.ServerConfig{Name: "Bench", Logger: quiet(), Modes: map[string]rpcq.Mode{"EchoOnce": rpcq.ExactlyOnce}})
	if err != nil {
		b.Fatal(err)
	}
	rpcq.HandleFunc(rs, "Echo", echo)
	rpcq.HandleFunc(rs, "EchoOnce", echo)
	if err := rs.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rs.Shutdown(context.Background()) })

	// The same method, exactly-once with the durable, shared table.
	js, err := jetstream.New(serverNC)
	if err != nil {
		b.Fatal(err)
	}
	table, err := rpcq.NewKVTable(context.Background(), js, "BenchKV", rpcq.KVTableConfig{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(table.Close)
	kvs, err := rpcq.NewServer(serverNC, rpcq.ServerConfig{Name: "BenchKV", Logger: quiet(), Table: table, Modes: map[string]rpcq.Mode{"Echo": rpcq.ExactlyOnce}})
	if err != nil {
		b.Fatal(err)
	}
	rpcq.HandleFunc(kvs, "Echo", echo)
	if err := kvs.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kvs.Shutdown(context.Background()) })
	return &benchEnv{b: srv, raw: srv.Connect(), client: client(b, srv.Connect(), rpcq.ClientConfig{})}
}

// BenchmarkCall is one synchronous call at a time.
func BenchmarkCall(b *testing.B) {
	env := setupBench(b)
	b.Run("baseline-nats", func(b *testing.B) {
		for b.Loop() {
			if _, err := env.raw.Request("raw.echo", payload, 5*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-nats-headers", func(b *testing.B) {
		msg := withHeaders()
		for b.Loop() {
			if _, err := env.raw.RequestMsg(msg, 5*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rpcq", func(b *testing.B) {
		ctx := context.Background()
		var reply []byte
		for b.Loop() {
			if err := env.client.Call(ctx, "Bench.Echo", payload, &reply); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// kvPuts is a row beside the KV table's: a bare Put of a new key of the
// table's bucket, as the table stores each reply, with nothing else, so
// that the table shows what one of its writes costs next to a call.
func kvPuts(b *testing.B, env *benchEnv, goroutines int) {
	js, err := jetstream.New(env.b.Connect())
	if err != nil {
		b.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), rpcq.DefaultKVTableBucket)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	put := func() error {
		_, err := kv.Put(context.Background(), "BenchPut."+strconv.FormatInt(n.Add(1), 10), payload)
		return err
	}
	if goroutines > 1 {
		parallel(b, put)
		return
	}
	for b.Loop() {
		if err := put(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkModes is one synchronous call at a time in each delivery mode:
// what exactly-once costs over at-most-once, with the duplicate table in
// memory and in a JetStream KV bucket (a compare-and-swap of the client's
// record per call), and such writes alone: a Put of a new key, and a
// compare-and-swap of one key, which replaces its last value.
func BenchmarkModes(b *testing.B) {
	env := setupBench(b)
	for _, m := range []struct{ name, method string }{
		{"baseline-atmostonce", "Bench.Echo"},
		{"exactlyonce-memory", "Bench.EchoOnce"},
		{"exactlyonce-kv", "BenchKV.Echo"},
	} {
		b.Run(m.name, func(b *testing.B) {
			ctx := context.Background()
			var reply []byte
			mode := rpcq.WithMode(rpcq.ExactlyOnce)
			if m.method == "Bench.Echo" {
				mode = rpcq.WithMode(rpcq.AtMostOnce)
			}
			for b.Loop() {
				if err := env.client.Call(ctx, m.method, payload, &reply, mode); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("kv-put-only", func(b *testing.B) { kvPuts(b, env, 1) })
	b.Run("kv-update-only", func(b *testing.B) { kvUpdates(b, env) })
}

// kvUpdates makes b.N compare-and-swaps of one key of the KV table's
// bucket, one at a time, each at the revision the one before it made:
// what a KVTable's write of a client's record costs the broker, which
// replaces the record's last value.
func kvUpdates(b *testing.B, env *benchEnv) {
	js, err := jetstream.New(env.b.Connect())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, rpcq.DefaultKVTableBucket)
	if err != nil {
		b.Fatal(err)
	}
	rev, err := kv.Put(ctx, "BenchUpdate", payload)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if rev, err = kv.Update(ctx, "BenchUpdate", payload, rev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInFlight64 is 64 goroutines each making blocking calls; ns/op
// is the time per call, the inverse of throughput.
func BenchmarkInFlight64(b *testing.B) {
	env := setupBench(b)
	b.Run("baseline-nats", func(b *testing.B) {
		parallel(b, func() error {
			_, err := env.raw.Request("raw.echo", payload, 5*time.Second)
			return err
		})
	})
	b.Run("baseline-nats-headers", func(b *testing.B) {
		msg := withHeaders()
		parallel(b, func() error {
			_, err := env.raw.RequestMsg(msg, 5*time.Second)
			return err
		})
	})
	b.Run("baseline-netrpc", func(b *testing.B) {
		c := netRPCClient(b)
		parallel(b, func() error {
			var reply []byte
			return c.Call("Echo.Echo", payload, &reply)
		})
	})
	b.Run("rpcq", func(b *testing.B) {
		parallel(b, func() error {
			var reply []byte
			return env.client.Call(context.Background(), "Bench.Echo", payload, &reply)
		})
	})
}

// BenchmarkInFlight1024 is one client keeping 1,024 calls in flight with
// Go, against net/rpc's 64 goroutines each making blocking calls.
func BenchmarkInFlight1024(b *testing.B) {
	env := setupBench(b)
	b.Run("baseline-netrpc", func(b *testing.B) {
		c := netRPCClient(b)
		parallel(b, func() error {
			var reply []byte
			return c.Call("Echo.Echo", payload, &reply)
		})
	})
	b.Run("rpcq-go", func(b *testing.B) {
		goInFlight(b, env.client, "Bench.Echo", manyInFlight)
	})
}

// BenchmarkModesInFlight64 is 64 goroutines each calling one method, in
// each delivery mode: what exactly-once costs when the table's writes of
// concurrent calls can be grouped, and as many bare writes of the table's
// bucket.
func BenchmarkModesInFlight64(b *testing.B) {
	env := setupBench(b)
	for _, m := range []struct{ name, method string }{
		{"baseline-atmostonce", "Bench.Echo"},
		{"exactlyonce-memory", "Bench.EchoOnce"},
		{"exactlyonce-kv", "BenchKV.Echo"},
	} {
		b.Run(m.name, func(b *testing.B) {
			mode := rpcq.WithMode(rpcq.ExactlyOnce)
			if m.method == "Bench.Echo" {
				mode = rpcq.WithMode(rpcq.AtMostOnce)
			}
			parallel(b, func() error {
				var reply []byte
				return env.client.Call(context.Background(), m.method, payload, &reply, mode)
			})
		})
	}
	b.Run("kv-put-only", func(b *testing.B) { kvPuts(b, env, inFlight) })
}

// goInFlight makes b.N calls of method from one goroutine with Go,
// keeping n in flight.
func goInFlight(b *testing.B, c *rpcq.Client, method string, n int) {
	ctx := context.Background()
	done := make(chan *rpcq.Call, n)
	replies := make([][]byte, n)
	sent := 0
	for ; sent < min(n, b.N); sent++ {
		c.Go(ctx, method, payload, &replies[sent], done)
	}
	for range b.N {
		call := <-done
		if call.Error != nil {
			b.Fatal(call.Error)
		}
		if sent < b.N {
			c.Go(ctx, method, payload, call.Reply, done)
			sent++
		}
	}
}

// parallel runs fn b.N times from inFlight goroutines.
func parallel(b *testing.B, fn func() error) {
	var wg sync.WaitGroup
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	for range inFlight {
		wg.Go(func() {
			for range work {
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Echo is the net/rpc baseline's service.
type Echo struct{}

func (Echo) Echo(args []byte, reply *[]byte) error {
	*reply = args
	return nil
}

// netRPCClient serves Echo with net/rpc on a loopback TCP listener and
// returns one client, shared as net/rpc clients are.
func netRPCClient(b *testing.B) *rpc.Client {
	b.Helper()
	server := rpc.NewServer()
	if err := server.Register(Echo{}); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed at cleanup
			}
			go server.ServeConn(conn)
		}
	}()
	c, err := rpc.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
