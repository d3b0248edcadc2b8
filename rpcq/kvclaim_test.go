package rpcq_test

import (
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// Many arrivals of many calls at once, on two replicas sharing the
// bucket: the claims of one client share writes of its record, and each
// call is let run exactly once; once finished, every arrival is answered.
func TestKVTableClaimsOnceUnderConcurrency(t *testing.T) {
	b := brokertest.Start(t)
	replicas := []*rpcq.KVTable{kvTableLease(t, b, time.Minute), kvTableLease(t, b, time.Minute)}
	client := newClientID(t, b)
	ctx := timeout(t, 30*time.Second)

	const calls, arrivals = 16, 6
	var mu sync.Mutex
	runs := map[uint64]int{}
	ran := map[uint64]*rpcq.KVTable{}
	var wg sync.WaitGroup
	for seq := uint64(1); seq <= calls; seq++ {
		for a := range arrivals {
			wg.Go(func() {
				table := replicas[a%len(replicas)]
				v, _, _, err := table.Begin(ctx, rpcq.RequestID{Client: client, Seq: seq}, 0, time.Now())
				if err != nil {
					t.Errorf("call %d arrival %d: %v", seq, a, err)
					return
				}
				switch v {
				case rpcq.Run:
					mu.Lock()
					runs[seq]++
					ran[seq] = table
					mu.Unlock()
				case rpcq.Running:
				default:
					t.Errorf("call %d arrival %d: verdict %v, want Run or Running", seq, a, v)
				}
			})
		}
	}
	wg.Wait()
	for seq := uint64(1); seq <= calls; seq++ {
		if runs[seq] != 1 {
			t.Fatalf("call %d let run %d times, want once", seq, runs[seq])
		}
		id := rpcq.RequestID{Client: client, Seq: seq}
		if err := ran[seq].Finish(ctx, id, rpcq.Reply{Body: []byte{byte(seq)}}); err != nil {
			t.Fatal(err)
		}
		for _, table := range replicas {
			v, r, _, err := table.Begin(ctx, id, 0, time.Now())
			if err != nil || v != rpcq.Answered || len(r.Body) != 1 || r.Body[0] != byte(seq) {
				t.Errorf("call %d after it finished = %v %v, %v; want its saved reply", seq, v, r.Body, err)
			}
		}
	}
}

// A call claimed whose reply was never saved, as when its replica died
// while it ran, is running to a duplicate until a lease has passed since
// its claim, then forgotten; it is never let run again.
func TestKVTableClaimWithoutReply(t *testing.T) {
	const lease = time.Second
	b := brokertest.Start(t)
	table := kvTableLease(t, b, lease)
	client := newClientID(t, b)
	ctx := timeout(t, 30*time.Second)
	begin := func(seq uint64) rpcq.Verdict {
		t.Helper()
		v, _, _, err := table.Begin(ctx, rpcq.RequestID{Client: client, Seq: seq}, 0, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	claimed := time.Now()
	if v := begin(1); v != rpcq.Run {
		t.Fatalf("first arrival = %v, want Run", v)
	}
	// Later calls keep the client's record, and so call 1's claim, alive.
	seq := uint64(1)
	brokertest.WaitFor(t, 10*lease, func() bool {
		seq++
		if v := begin(seq); v != rpcq.Run {
			t.Fatalf("call %d = %v, want Run", seq, v)
		}
		asked := time.Now()
		v := begin(1)
		switch {
		case v == rpcq.Running:
			return false
		case v == rpcq.Forgotten && asked.Sub(claimed) >= lease:
			return true
		default:
			t.Fatalf("duplicate of call 1 %v after its claim = %v, want Running within a lease, then Forgotten", asked.Sub(claimed), v)
			return true
		}
	}, "the claim to be a lease old")
}

// newClientID is the ID of a client born now.
func newClientID(t *testing.T, b *brokertest.Server) string {
	t.Helper()
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	return c.ID()
}
