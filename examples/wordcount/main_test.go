package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
)

func TestCompute(t *testing.T) {
	var reply WordCountReply
	if err := new(WordCountServer).Compute(WordCountRequest{Input: lectureInput}, &reply); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"hello": 3, "I": 1, "am": 1, "good": 2, "bye": 3, "night": 1}
	if !maps.Equal(reply.Counts, want) {
		t.Errorf("Compute(lecture) = %v, want %v", reply.Counts, want)
	}
}

func TestRunEmbedded(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), nil, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	const counts = "map[I:1 am:1 bye:3 good:2 hello:3 night:1]"
	for _, want := range []string{"Call (synchronous):  " + counts, "Go   (asynchronous): " + counts} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestServeOnExistingNATS(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out testutil.SyncBuffer
	go func() { done <- run(ctx, []string{"--nats", b.ClientURL(), "--serve"}, &out, &out) }()

	nc := b.Connect()
	var data []byte
	brokertest.WaitFor(t, 10*time.Second, func() bool {
		m, err := nc.Request("rpcq.WordCount.Compute", []byte(`{"Input":"a b a"}`), time.Second)
		if err != nil {
			return false
		}
		data = m.Data
		return true
	}, "the served method to answer")
	var reply WordCountReply
	if err := json.Unmarshal(data, &reply); err != nil || reply.Counts["a"] != 2 || reply.Counts["b"] != 1 {
		t.Errorf("nats request reply = %s (%v)", data, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run --serve = %v after interrupt", err)
	}
}
