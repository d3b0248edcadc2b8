package kv_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serve opens dir and serves it on b until the returned stop is called.
func serve(t *testing.T, b *brokertest.Server, dir string) (s *kv.Server, stop func()) {
	t.Helper()
	s, err := kv.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := s.Serve(b.Connect(), rpcq.ExactlyOnce, rpcq.ServerConfig{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			srv.Shutdown(context.Background())
			s.Close()
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func newClient(t *testing.T, nc *nats.Conn, prefix string) *kv.Client {
	t.Helper()
	c, err := kv.NewClient(nc, rpcq.ExactlyOnce, rpcq.ClientConfig{SubjectPrefix: prefix, RetryInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPutAppendGetSurviveRestart(t *testing.T) {
	b := brokertest.Start(t)
	dir := t.TempDir()
	_, stop := serve(t, b, dir)
	c := newClient(t, b.Connect(), "")
	if err := c.Put(ctx(t), "k", "a"); err != nil {
		t.Fatal(err)
	}
	for i, arg := range []string{"b", "c"} {
		old, err := c.Append(ctx(t), "k", arg)
		if want := []string{"a", "ab"}[i]; err != nil || old != want {
			t.Fatalf("Append(k, %s) = %q, %v; want %q", arg, old, err, want)
		}
	}
	stop()
	serve(t, b, dir)
	if v, err := c.Get(ctx(t), "k"); err != nil || v != "abc" {
		t.Fatalf("Get(k) after restart = %q, %v; want abc", v, err)
	}
}

func TestTornTailIsCut(t *testing.T) {
	b := brokertest.Start(t)
	dir := t.TempDir()
	_, stop := serve(t, b, dir)
	c := newClient(t, b.Connect(), "")
	if _, err := c.Append(ctx(t), "k", "whole"); err != nil {
		t.Fatal(err)
	}
	stop()
	// What a crash in the middle of a write leaves: a record cut short.
	f, err := os.OpenFile(filepath.Join(dir, "kv.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 40, 1, 2, 3, 4, 0x85})
	f.Close()

	serve(t, b, dir)
	if v, err := c.Get(ctx(t), "k"); err != nil || v != "whole" {
		t.Fatalf("Get(k) after a torn write = %q, %v; want whole", v, err)
	}
	if _, err := c.Append(ctx(t), "k", "+more"); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get(ctx(t), "k"); v != "whole+more" {
		t.Fatalf("Get(k) = %q; want whole+more (appends after the cut are kept)", v)
	}
}

// TestRetryAcrossRestartIsAnswered: a call that completed just before the
// server died is answered from the log when its retry arrives, not run again.
func TestRetryAcrossRestartIsAnswered(t *testing.T) {
	b := brokertest.Start(t)
	dir := t.TempDir()
	_, stop := serve(t, b, dir)
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := newClient(t, b.Connect(), relay.Prefix())
	if _, err := c.Append(ctx(t), "k", "x"); err != nil {
		t.Fatal(err)
	}
	stop()
	serve(t, b, dir)

	// The retry, as the client would send it had the reply been lost.
	rec := relay.Recorded()[0]
	raw := b.Connect()
	reply, err := raw.RequestMsg(&nats.Msg{Subject: rec.Subject, Header: rec.Header, Data: rec.Data}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "" {
		t.Fatalf("retry after restart answered %s %s, want the saved reply", code, reply.Header.Get(rpcq.HeaderError))
	}
	var old string
	if err := rpcq.Msgpack.Unmarshal(reply.Data, &old); err != nil || old != "" {
		t.Fatalf("saved reply = %q, %v; want the old value \"\"", old, err)
	}
	if v, _ := c.Get(ctx(t), "k"); v != "x" {
		t.Fatalf("Get(k) = %q, want x: the retry must not run again", v)
	}
}

func TestStatsReportTheTable(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, t.TempDir())
	c := newClient(t, b.Connect(), "")
	for range 3 {
		if _, err := c.Append(ctx(t), "k", "x"); err != nil {
			t.Fatal(err)
		}
	}
	m, err := b.Connect().Request("$SRV.STATS.KV", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Endpoints []struct {
			Name string     `json:"name"`
			Data rpcq.Stats `json:"data"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(m.Data, &stats); err != nil {
		t.Fatal(err)
	}
	for _, ep := range stats.Endpoints {
		if ep.Data.Executions != 3 || ep.Data.Clients != 1 || ep.Data.HeapInUse == 0 {
			t.Errorf("endpoint %s stats data = %+v; want 3 executions of 1 client and the heap", ep.Name, ep.Data)
		}
	}
}

// TestGetTakesKeyOrObject: Get takes {"key":"k"} or the key alone, as
// JSON from a shell and as msgpack from Go.
func TestGetTakesKeyOrObject(t *testing.T) {
	b := brokertest.Start(t)
	serve(t, b, t.TempDir())
	nc := b.Connect()
	request := func(t *testing.T, method, body string, h nats.Header) *nats.Msg {
		t.Helper()
		m, err := nc.RequestMsg(&nats.Msg{Subject: rpcq.Subject(kv.ServiceName, method), Data: []byte(body), Header: h}, 5*time.Second)
		if err != nil {
			t.Fatalf("request %s %s: %v", method, body, err)
		}
		return m
	}
	if m := request(t, "Put", `{"key":"k","value":"v"}`, nil); m.Header.Get(rpcq.HeaderErrorCode) != "" || string(m.Data) != "{}" {
		t.Fatalf("Put = %s %s, want {}", m.Header.Get(rpcq.HeaderError), m.Data)
	}
	jsonHeader := nats.Header{rpcq.HeaderContentType: []string{rpcq.ContentTypeJSON}}
	tests := []struct {
		name     string
		body     string
		header   nats.Header
		want     string // the JSON reply
		wantCode string // or the error code
	}{
		{"object", `{"key":"k"}`, nil, `"v"`, ""},
		{"object with blanks", " \n{ \"key\" : \"k\" }", nil, `"v"`, ""},
		{"object, header", `{"key":"k"}`, jsonHeader, `"v"`, ""},
		{"string, header", `"k"`, jsonHeader, `"v"`, ""},
		{"no such key", `{"key":"nope"}`, nil, `""`, ""},
		{"no key", `{}`, nil, `""`, ""},
		{"key not a string", `{"key":5}`, nil, "", "400"},
		{"number, header", `5`, jsonHeader, "", "400"},
		{"string, no header", `"k"`, nil, `"v"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := request(t, "Get", tt.body, tt.header)
			if code := m.Header.Get(rpcq.HeaderErrorCode); code != tt.wantCode || (code == "" && string(m.Data) != tt.want) {
				t.Errorf("Get %q = %s %q %s, want %s %s", tt.body, code, m.Header.Get(rpcq.HeaderError), m.Data, tt.wantCode, tt.want)
			}
		})
	}

	// From Go: the key alone (what Client.Get sends) and GetArgs, as msgpack.
	rc, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, args := range []any{"k", kv.GetArgs{Key: "k"}, &kv.GetArgs{Key: "k"}} {
		var v string
		if err := rc.Call(ctx(t), kv.ServiceName+".Get", args, &v); err != nil || v != "v" {
			t.Errorf("Call(Get, %#v) = %q, %v; want v", args, v, err)
		}
	}
	var v string
	if err := rc.Call(ctx(t), kv.ServiceName+".Get", 5, &v); !errors.Is(err, rpcq.ErrBadRequest) {
		t.Errorf("Call(Get, 5) = %q, %v; want a bad request", v, err)
	}
}

func TestBadMode(t *testing.T) {
	s, err := kv.Open(t.TempDir(), kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Serve(nil, rpcq.AtLeastOnce, rpcq.ServerConfig{}); err == nil {
		t.Error("Serve at-least-once succeeded")
	}
}
