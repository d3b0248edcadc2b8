package rpcq_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

func TestNoRespondersThenLateServer(t *testing.T) {
	b := brokertest.Start(t)
	nc := b.Connect()
	c := client(t, nc, rpcq.ClientConfig{})
	sent := nc.Stats().OutMsgs

	var product int
	call := c.Go(timeout(t, 20*time.Second), "Arith.Multiply", Args{4, 5}, &product, nil)
	// Two sends mean the first was answered "no responders" and retried.
	brokertest.WaitFor(t, 10*time.Second, func() bool { return nc.Stats().OutMsgs >= sent+2 }, "a retried send")
	serve(t, b, &Arith{}, rpcq.ServerConfig{})

	<-call.Done
	if call.Error != nil || product != 20 {
		t.Fatalf("call after late server = %d, %v", product, call.Error)
	}
	if call.Attempts < 2 {
		t.Errorf("Attempts = %d, want at least 2", call.Attempts)
	}
}

func TestNoRespondersReported(t *testing.T) {
	b := brokertest.Start(t)
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	start := time.Now()
	err := c.Call(timeout(t, 300*time.Millisecond), "Nobody.Home", Args{}, nil)
	if !errors.Is(err, rpcq.ErrNoResponders) {
		t.Fatalf("Call to an absent service = %v, want ErrNoResponders", err)
	}
	if errors.Is(err, rpcq.ErrTimeout) {
		t.Errorf("%v also matches ErrTimeout; the call certainly did not run", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", el)
	}
}

func TestUnknownMethod(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, &Arith{}, rpcq.ServerConfig{})
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	start := time.Now()
	err := c.Call(timeout(t, 10*time.Second), "Arith.Multiplyy", Args{}, nil)
	if !errors.Is(err, rpcq.ErrUnknownMethod) {
		t.Fatalf("Call(Arith.Multiplyy) = %v, want ErrUnknownMethod", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("unknown method took %v to report", el)
	}
	if err := c.Call(timeout(t, time.Second), "no-dot", nil, nil); !contains(err, "Service.Method") {
		t.Errorf("Call(no-dot) = %v", err)
	}
}

func TestDeadline(t *testing.T) {
	b := brokertest.Start(t)
	arith := &Arith{release: make(chan struct{}, 1)}
	serve(t, b, arith, rpcq.ServerConfig{})
	nc := b.Connect()
	c := client(t, nc, rpcq.ClientConfig{})

	t.Run("travels to the handler", func(t *testing.T) {
		arith.release <- struct{}{} // Slow returns at once
		var left time.Duration
		if err := c.Call(timeout(t, 2*time.Second), "Arith.Slow", Args{}, &left); err != nil {
			t.Fatal(err)
		}
		if left <= time.Second || left > 2*time.Second {
			t.Errorf("handler saw %v left, want the caller's 2s less transit", left)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		err := c.Call(timeout(t, 300*time.Millisecond), "Arith.Slow", Args{}, nil)
		if !errors.Is(err, rpcq.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Call(Slow) past its deadline = %v, want ErrTimeout and DeadlineExceeded", err)
		}
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() {
			t.Errorf("%v has no Timeout() true", err)
		}
		if el := time.Since(start); el < 250*time.Millisecond || el > 3*time.Second {
			t.Errorf("timeout after %v, want about 300ms", el)
		}
	})

	t.Run("expired request is not run", func(t *testing.T) {
		before := arith.calls.Load()
		for _, left := range []string{"-5ms", "0s"} {
			msg := &nats.Msg{Subject: "rpcq.Arith.Multiply", Header: nats.Header{rpcq.HeaderRequest: {"d=" + left}}, Data: []byte(`{"A":1,"B":1}`)}
			reply, err := nc.RequestMsg(msg, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if code := reply.Header.Get(rpcq.HeaderErrorCode); code != strconv.Itoa(rpcq.CodeDeadline) {
				t.Errorf("deadline %s: error code %q, want 408", left, code)
			}
		}
		if got := arith.calls.Load(); got != before {
			t.Errorf("expired requests ran %d times", got-before)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		call := c.Go(ctx, "Arith.Slow", Args{}, nil, nil)
		cancel()
		<-call.Done
		if !errors.Is(call.Error, context.Canceled) {
			t.Errorf("cancelled call = %v, want context.Canceled", call.Error)
		}
	})
}

func TestMaxPayload(t *testing.T) {
	b := brokertest.Start(t, broker.Config{MaxPayload: 4096})
	arith := &Arith{}
	srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: "Echo", SeparateLargeReplies: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var ran int
	rpcq.HandleFunc(srv, "Big", func(ctx context.Context, n int) ([]byte, error) {
		ran++
		return make([]byte, n), nil
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	_ = arith
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	ctx := timeout(t, 5*time.Second)

	err = c.Call(ctx, "Echo.Big", make([]byte, 8000), nil)
	if !errors.Is(err, rpcq.ErrMaxPayload) || !contains(err, "4096") {
		t.Errorf("Call with 8000 bytes = %v, want ErrMaxPayload naming 4096", err)
	}
	if ran != 0 {
		t.Errorf("oversized request ran")
	}
	err = c.Call(ctx, "Echo.Big", 8000, nil)
	if !errors.Is(err, rpcq.ErrReplyTooLarge) || !contains(err, "max payload") || !contains(err, "ran") {
		t.Errorf("Call with an 8000 byte reply = %v, want a 413 saying it ran and the reply exceeds the max payload", err)
	}
	// From a shell, the error is JSON as its content type says.
	reply, err := b.Connect().RequestMsg(&nats.Msg{Subject: "rpcq.Echo.Big", Data: []byte("8000"),
		Header: nats.Header{rpcq.HeaderContentType: {rpcq.ContentTypeJSON}}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error struct{ Code int } }
	if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "413" || reply.Header.Get(rpcq.HeaderContentType) != rpcq.ContentTypeJSON ||
		json.Unmarshal(reply.Data, &body) != nil || body.Error.Code != 413 {
		t.Errorf("JSON call with an 8000 byte reply = code %q, %s %q", code, reply.Header.Get(rpcq.HeaderContentType), reply.Data)
	}
}

// flaky answers rpcq.Flaky.Do like a server that lost the first request:
// attempt 1 gets no reply. It records every request's headers.
func flaky(t *testing.T, nc *nats.Conn) <-chan nats.Header {
	seen := make(chan nats.Header, 100)
	_, err := nc.Subscribe("rpcq.Flaky.Do", func(m *nats.Msg) {
		seen <- m.Header
		if rpcq.RequestField(m.Header, "n") != "" { // absent on the first attempt
			body, _ := rpcq.Msgpack.Marshal("ok")
			m.Respond(body)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	return seen
}

func TestRetryModes(t *testing.T) {
	b := brokertest.Start(t)
	seen := flaky(t, b.Connect())
	c := client(t, b.Connect(), rpcq.ClientConfig{RetryInterval: 20 * time.Millisecond})

	var got string
	call := c.Go(timeout(t, 10*time.Second), "Flaky.Do", "x", &got, nil, rpcq.WithMode(rpcq.AtLeastOnce))
	<-call.Done
	if call.Error != nil || got != "ok" || call.Attempts != 2 {
		t.Fatalf("at-least-once through a lost request = %q, %v after %d attempts; want ok after 2", got, call.Error, call.Attempts)
	}
	first, second := <-seen, <-seen
	if id := rpcq.RequestField(first, "id"); id == "" || id != rpcq.RequestField(second, "id") {
		t.Errorf("id = %q then %q, want the same on every attempt", id, rpcq.RequestField(second, "id"))
	}
	if !strings.HasPrefix(rpcq.RequestField(first, "id"), c.ID()+"-") || rpcq.RequestField(first, "d") == "" {
		t.Errorf("request headers %v", first)
	}

	call = c.Go(timeout(t, 300*time.Millisecond), "Flaky.Do", "x", &got, nil) // at-most-once
	<-call.Done
	if !errors.Is(call.Error, rpcq.ErrTimeout) || call.Attempts != 1 {
		t.Errorf("at-most-once through a lost request = %v after %d attempts; want a timeout after 1", call.Error, call.Attempts)
	}
	if h := <-seen; rpcq.RequestField(h, "id") == rpcq.RequestField(first, "id") {
		t.Errorf("a new call reused id %s", rpcq.RequestField(h, "id"))
	}

	modes := rpcq.ClientConfig{RetryInterval: 20 * time.Millisecond, Modes: map[string]rpcq.Mode{"Flaky.Do": rpcq.ReadOnly}}
	if err := client(t, b.Connect(), modes).Call(timeout(t, 10*time.Second), "Flaky.Do", "x", &got); err != nil {
		t.Errorf("read-only (from ClientConfig.Modes) through a lost request = %v", err)
	}
}

func TestClientClose(t *testing.T) {
	b := brokertest.Start(t)
	arith := &Arith{entered: make(chan struct{}, 1), release: make(chan struct{})}
	serve(t, b, arith, rpcq.ServerConfig{})
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	call := c.Go(timeout(t, 10*time.Second), "Arith.Slow", Args{}, nil, nil)
	<-arith.entered
	c.Close()
	<-call.Done
	if !errors.Is(call.Error, rpcq.ErrClosed) {
		t.Errorf("in-flight call on Close = %v, want ErrClosed", call.Error)
	}
	if err := c.Call(timeout(t, time.Second), "Arith.Multiply", Args{}, nil); !errors.Is(err, rpcq.ErrClosed) {
		t.Errorf("Call after Close = %v, want ErrClosed", err)
	}
	close(arith.release)
}

// TestLargeReply: a reply large enough to go out on the connection for
// large replies arrives whole, in msgpack and in JSON with its content
// type, and again after that connection has closed for idleness.
func TestLargeReply(t *testing.T) {
	b := brokertest.Start(t)
	srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: "Echo", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	rpcq.HandleFunc(srv, "Big", func(ctx context.Context, n int) (string, error) {
		return strings.Repeat("x", n), nil
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	raw := b.Connect()
	conns := b.Server().NumClients()
	const n = 200 << 10
	for i := range 2 {
		var got string
		if err := c.Call(timeout(t, 10*time.Second), "Echo.Big", n, &got); err != nil || got != strings.Repeat("x", n) {
			t.Fatalf("call %d: Big(%d) = %d bytes, %v", i, n, len(got), err)
		}
		reply, err := raw.RequestMsg(&nats.Msg{Subject: "rpcq.Echo.Big", Data: []byte(strconv.Itoa(n))}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if reply.Header.Get(rpcq.HeaderContentType) != rpcq.ContentTypeJSON || json.Unmarshal(reply.Data, &s) != nil || len(s) != n {
			t.Fatalf("JSON Big(%d) = %s, %d bytes", n, reply.Header.Get(rpcq.HeaderContentType), len(reply.Data))
		}
		// The connection for large replies closes once idle; the second
		// round dials it again.
		brokertest.WaitFor(t, 10*time.Second, func() bool { return b.Server().NumClients() == conns }, "the idle connection for large replies to close")
	}
}
