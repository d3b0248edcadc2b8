package rpcq_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// recoveryBound is how soon after an outage ends the calls caught in it
// must be answered. Without a resend at once they wait out their resend
// timers, which these tests set to 5 s (at least 3.75 s with jitter).
const recoveryBound = time.Second

// slowResends is a client whose resend timers are all at their cap.
var slowResends = rpcq.ClientConfig{RetryInterval: 5 * time.Second}

// heldService answers subject "rpcq.Held.Do" on nc once answering is true;
// until then it keeps every request unanswered and reports it on held, as a
// server that took the requests and then died.
func heldService(t *testing.T, nc *nats.Conn, answering *atomic.Bool) <-chan struct{} {
	t.Helper()
	held := make(chan struct{}, 1000)
	_, err := nc.Subscribe("rpcq.Held.Do", func(m *nats.Msg) {
		if answering.Load() {
			body, _ := rpcq.Msgpack.Marshal("ok")
			m.Respond(body)
			return
		}
		held <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return held
}

// goHeld starts n at-least-once calls to Held.Do and waits until the
// service holds each.
func goHeld(t *testing.T, c *rpcq.Client, held <-chan struct{}, n int) chan *rpcq.Call {
	t.Helper()
	done := make(chan *rpcq.Call, n)
	for range n {
		c.Go(timeout(t, 30*time.Second), "Held.Do", "x", new(string), done, rpcq.WithMode(rpcq.AtLeastOnce))
	}
	for range n {
		<-held
	}
	return done
}

// waitAnswered waits for n calls on done and fails t unless each succeeded
// within recoveryBound of since.
func waitAnswered(t *testing.T, done <-chan *rpcq.Call, n int, since time.Time) {
	t.Helper()
	for range n {
		call := <-done
		if call.Error != nil {
			t.Fatalf("call = %v", call.Error)
		}
	}
	if el := time.Since(since); el > recoveryBound {
		t.Errorf("calls caught in the outage answered %v after it ended, want within %v", el, recoveryBound)
	}
}

// TestResendOnReconnect: calls whose requests were taken before a broker
// restart, and whose resend timers are long, are resent as soon as the
// client's connection is back.
func TestResendOnReconnect(t *testing.T) {
	b := brokertest.Start(t)
	var answering atomic.Bool
	held := heldService(t, b.Connect(), &answering)
	c := client(t, b.Connect(), slowResends)
	const calls = 8
	done := goHeld(t, c, held, calls)

	answering.Store(true) // the requests held are lost with the broker
	b.Restart()           // returns once both connections are back
	waitAnswered(t, done, calls, time.Now())
}

// TestResendWhenServiceReturns: calls held by a service instance that
// died are resent as soon as the service answers again, found missing
// meanwhile by another call of the client.
func TestResendWhenServiceReturns(t *testing.T) {
	b := brokertest.Start(t)
	var answering atomic.Bool
	dying := b.Connect()
	held := heldService(t, dying, &answering)
	c := client(t, b.Connect(), slowResends)
	const calls = 8
	done := goHeld(t, c, held, calls)

	dying.Close() // the instance dies with the requests it took
	brokertest.WaitFor(t, 10*time.Second, func() bool {
		return !b.Server().GlobalAccount().SubscriptionInterest("rpcq.Held.Do")
	}, "the broker to see the instance gone")
	probe := c.Go(timeout(t, 30*time.Second), "Held.Do", "x", new(string), nil, rpcq.WithMode(rpcq.AtLeastOnce))
	time.Sleep(time.Second) // the outage: the probe retries "no responders"
	answering.Store(true)
	heldService(t, b.Connect(), &answering)
	back := time.Now()
	if call := <-probe.Done; call.Error != nil {
		t.Fatalf("call during the outage = %v", call.Error)
	}
	waitAnswered(t, done, calls, back)
}
