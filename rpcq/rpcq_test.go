package rpcq_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

func TestCallShapes(t *testing.T) {
	b := brokertest.Start(t)
	arith := &Arith{}
	serve(t, b, arith, rpcq.ServerConfig{})
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	ctx := timeout(t, 10*time.Second)

	var product int
	if err := c.Call(ctx, "Arith.Multiply", Args{7, 8}, &product); err != nil || product != 56 {
		t.Errorf("Call(Multiply 7 8) = %d, %v; want 56, nil", product, err)
	}
	var q Quotient
	if err := c.Call(ctx, "Arith.Divide", Args{17, 5}, &q); err != nil || q != (Quotient{3, 2}) {
		t.Errorf("Call(Divide 17 5) = %+v, %v; want {3 2}, nil", q, err)
	}
	err := c.Call(ctx, "Arith.Divide", Args{1, 0}, &q)
	var re *rpcq.RemoteError
	if !errors.As(err, &re) || re.Code != rpcq.CodeBadRequest || re.Message != "divide by zero" {
		t.Errorf("Call(Divide 1 0) error = %v, want remote 400 divide by zero", err)
	}
	if !errors.Is(err, rpcq.ErrBadRequest) {
		t.Errorf("errors.Is(%v, ErrBadRequest) = false", err)
	}
	if err := c.Call(ctx, "Arith.Fail", Args{}, nil); !errors.Is(err, rpcq.ErrInternal) || !contains(err, "plain failure") {
		t.Errorf("Call(Fail) error = %v, want remote 500 plain failure", err)
	}
}

func TestHandleFunc(t *testing.T) {
	b := brokertest.Start(t)
	srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: "Echo", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rpcq.HandleFunc(srv, "Upper", func(ctx context.Context, s string) (string, error) {
		return s + "!", nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := rpcq.HandleFunc(srv, "Upper", func(ctx context.Context, s string) (string, error) { return s, nil }); err == nil {
		t.Error("registering Upper twice succeeded")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if err := srv.Register(&Arith{}); !errors.Is(err, rpcq.ErrStarted) {
		t.Errorf("Register after Start = %v, want ErrStarted", err)
	}
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	var got string
	if err := c.Call(timeout(t, 5*time.Second), "Echo.Upper", "hi", &got); err != nil || got != "hi!" {
		t.Errorf("Call(Echo.Upper hi) = %q, %v", got, err)
	}
}

func TestGoAndGoFunc(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, &Arith{}, rpcq.ServerConfig{})
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	ctx := timeout(t, 10*time.Second)

	const n = 200
	done := make(chan *rpcq.Call, n)
	replies := make([]int, n)
	for i := range n {
		c.Go(ctx, "Arith.Multiply", Args{i, 3}, &replies[i], done)
	}
	for range n {
		call := <-done
		if call.Error != nil {
			t.Fatalf("Go(%v): %v", call.Args, call.Error)
		}
	}
	for i, r := range replies {
		if r != 3*i {
			t.Fatalf("reply %d = %d, want %d", i, r, 3*i)
		}
	}

	got := make(chan int, 1)
	var reply int
	c.GoFunc(ctx, "Arith.Multiply", Args{6, 7}, &reply, func(call *rpcq.Call) {
		if call.Error != nil {
			t.Errorf("GoFunc: %v", call.Error)
		}
		got <- *call.Reply.(*int)
	})
	if r := <-got; r != 42 {
		t.Errorf("GoFunc reply = %d, want 42", r)
	}

	defer func() {
		if recover() == nil {
			t.Error("Go with an unbuffered done channel did not panic")
		}
	}()
	c.Go(ctx, "Arith.Multiply", Args{}, nil, make(chan *rpcq.Call))
}

func TestConcurrentCalls(t *testing.T) {
	b := brokertest.Start(t)
	arith := &Arith{}
	serve(t, b, arith, rpcq.ServerConfig{Concurrency: 3})
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	ctx := timeout(t, 30*time.Second)

	const goroutines, calls = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				var r int
				if err := c.Call(ctx, "Arith.Multiply", Args{g, i}, &r); err != nil {
					errs <- err
					return
				}
				if r != g*i {
					errs <- errors.New("wrong product")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := arith.calls.Load(); got != goroutines*calls {
		t.Errorf("handler ran %d times, want %d", got, goroutines*calls)
	}
}

func TestJSONThroughRawNATS(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, &Arith{}, rpcq.ServerConfig{})
	nc := b.Connect()

	tests := []struct {
		name     string
		subject  string
		header   nats.Header
		body     string
		want     string
		wantCode string
	}{
		{"sniffed object", "rpcq.Arith.Multiply", nil, `{"A":6,"B":7}`, `42`, ""},
		{"header", "rpcq.Arith.Divide", nats.Header{"Content-Type": {"application/json"}}, ` {"A":7,"B":2}`, `{"Quo":3,"Rem":1}`, ""},
		{"empty body", "rpcq.Arith.Multiply", nil, ``, `0`, ""},
		{"remote error", "rpcq.Arith.Divide", nil, `{"A":1,"B":0}`, `{"error":{"code":400,"message":"divide by zero"}}`, "400"},
		{"bad arguments", "rpcq.Arith.Multiply", nil, `{"A":"six"}`, "", "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := &nats.Msg{Subject: tt.subject, Header: tt.header, Data: []byte(tt.body)}
			reply, err := nc.RequestMsg(msg, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got := reply.Header.Get(micro.ErrorCodeHeader); got != tt.wantCode {
				t.Errorf("error code = %q (%s), want %q", got, reply.Header.Get(micro.ErrorHeader), tt.wantCode)
			}
			if tt.want != "" && string(reply.Data) != tt.want {
				t.Errorf("reply = %s, want %s", reply.Data, tt.want)
			}
			if ct := reply.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("reply Content-Type = %q, want application/json", ct)
			}
		})
	}
}

func TestJSONClient(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, &Arith{}, rpcq.ServerConfig{})
	c := client(t, b.Connect(), rpcq.ClientConfig{Codec: rpcq.JSON})
	var raw json.RawMessage
	if err := c.Call(timeout(t, 5*time.Second), "Arith.Divide", json.RawMessage(`{"A":9,"B":4}`), &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"Quo":2,"Rem":1}` {
		t.Errorf("JSON reply = %s", raw)
	}
}

func TestServiceInfo(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, &Arith{}, rpcq.ServerConfig{Version: "1.2.3", Concurrency: 2, Modes: map[string]rpcq.Mode{"Multiply": rpcq.ReadOnly}})
	nc := b.Connect()
	sub, err := nc.SubscribeSync(nats.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("$SRV.INFO.Arith", sub.Subject, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // one answer per instance
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("INFO answer %d: %v", i, err)
		}
		var info micro.Info
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		if info.Name != "Arith" || info.Version != "1.2.3" {
			t.Errorf("INFO = %s %s", info.Name, info.Version)
		}
		var subjects []string
		modes := map[string]string{}
		for _, ep := range info.Endpoints {
			subjects = append(subjects, ep.Subject)
			modes[ep.Name] = ep.Metadata[rpcq.MetadataMode]
		}
		slices.Sort(subjects)
		want := []string{"rpcq.Arith.Divide", "rpcq.Arith.Fail", "rpcq.Arith.Multiply", "rpcq.Arith.Panic", "rpcq.Arith.Slow"}
		if !slices.Equal(subjects, want) {
			t.Errorf("endpoints = %v, want %v", subjects, want)
		}
		if modes["Multiply"] != "read-only" || modes["Divide"] != "at-most-once" {
			t.Errorf("endpoint modes = %v", modes)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, &Arith{}, rpcq.ServerConfig{Concurrency: 1})
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	ctx := timeout(t, 10*time.Second)
	for range 3 {
		err := c.Call(ctx, "Arith.Panic", Args{}, nil)
		if !errors.Is(err, rpcq.ErrInternal) || !contains(err, "panic in Arith.Panic") {
			t.Fatalf("Call(Panic) = %v, want a 500 naming the panic", err)
		}
	}
	var r int
	if err := c.Call(ctx, "Arith.Multiply", Args{2, 3}, &r); err != nil || r != 6 {
		t.Fatalf("Call after panics = %d, %v", r, err)
	}
}
