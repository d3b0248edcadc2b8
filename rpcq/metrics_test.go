package rpcq_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// TestServerMetrics: a server given a Registerer counts each answered
// call by method, code and mode, times it, counts a duplicate answered
// from its table, and shows the table's size; one of the same service may
// register again once the first has shut down.
func TestServerMetrics(t *testing.T) {
	b := brokertest.Start(t)
	nc := b.Connect()
	reg := prometheus.NewRegistry()
	newServer := func() *rpcq.Server {
		srv, err := rpcq.NewServer(nc, rpcq.ServerConfig{Name: "Arith", Logger: quiet(), Metrics: reg,
			Modes: map[string]rpcq.Mode{"Multiply": rpcq.ExactlyOnce, "Divide": rpcq.AtLeastOnce}})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Register(&Arith{}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := newServer()
	client, err := rpcq.NewClient(b.Connect(), rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	for range 2 {
		if err := client.Call(ctx, "Arith.Multiply", Args{A: 6, B: 7}, &n); err != nil {
			t.Fatal(err)
		}
	}
	var q Quotient
	if err := client.Call(ctx, "Arith.Divide", Args{A: 1, B: 0}, &q); err == nil {
		t.Fatal("Arith.Divide by zero succeeded")
	}
	// A request sent twice with one ID, as a client's retry is.
	retry := &nats.Msg{Subject: rpcq.Subject("Arith", "Multiply"), Data: []byte(`{"A":2,"B":3}`), Header: nats.Header{
		rpcq.HeaderRequest: {fmt.Sprintf("id=%016x0123456789abcdef-1", time.Now().UnixNano())}}}
	for range 2 {
		if _, err := nc.RequestMsgWithContext(ctx, retry); err != nil {
			t.Fatal(err)
		}
	}

	// A call is counted once its reply is sent, so the last may be
	// counted a moment after its caller has the reply.
	want := map[string]float64{
		"drover_rpcq_calls_total,code=0,method=Multiply,mode=exactly-once,service=Arith":  4,
		"drover_rpcq_calls_total,code=400,method=Divide,mode=at-least-once,service=Arith": 1,
		"drover_rpcq_call_duration_seconds,method=Multiply,service=Arith":                 4,
		"drover_rpcq_duplicates_total,method=Multiply,service=Arith":                      1,
	}
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got = gather(t, reg)
		if countsReached(got, want) || time.Now().After(deadline) {
			break
		}
	}
	for key, want := range want {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if got["drover_rpcq_table_entries,service=Arith"] < 1 {
		t.Errorf("drover_rpcq_table_entries = %v, want the calls the table holds", got["drover_rpcq_table_entries,service=Arith"])
	}
	if n := testutil.CollectAndCount(reg, "drover_rpcq_table_entries"); n != 1 {
		t.Errorf("table entries series = %d, want 1", n)
	}

	srv.Shutdown(ctx)
	newServer().Shutdown(ctx)
}

// gather returns reg's series as "name,label=value,..." to their value,
// or a histogram's sample count.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}

// countsReached reports whether every series of want has reached its
// value in got.
func countsReached(got, want map[string]float64) bool {
	for key, w := range want {
		if got[key] < w {
			return false
		}
	}
	return true
}
