package brokertest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
)

// streamLeader returns the index of the node that leads stream S.
func streamLeader(t *testing.T, c *brokertest.Cluster, js jetstream.JetStream) int {
	t.Helper()
	leader := -1
	brokertest.WaitFor(t, brokertest.Timeout, func() bool {
		info := streamInfo(js)
		if info == nil || info.Cluster == nil {
			return false
		}
		leader = c.Index(info.Cluster.Leader)
		return leader >= 0
	}, "a leader of stream S")
	return leader
}

// streamInfo is stream S's info, through whichever node answers within a
// second, or nil.
func streamInfo(js jetstream.JetStream) *jetstream.StreamInfo {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "S")
	if err != nil {
		return nil
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil
	}
	return info
}

// publish publishes to s.x, retrying while the cluster elects, and fails t
// if no publish is acknowledged within the timeout.
func publish(t *testing.T, js jetstream.JetStream, d time.Duration) {
	t.Helper()
	brokertest.WaitFor(t, d, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.Publish(ctx, "s.x", []byte("x"))
		return err == nil
	}, "a publish to be acknowledged")
}

func TestClusterReplicates(t *testing.T) {
	c := brokertest.StartCluster(t, 3)
	nc := c.Connect()
	js, _ := jetstream.New(nc)
	brokertest.CreateStream(t, js, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3})
	publish(t, js, 10*time.Second)

	// The leader stops hard: another takes over, and the stream keeps
	// what it had and takes more.
	old := streamLeader(t, c, js)
	c.Stop(old)
	if c.Broker(old) != nil {
		t.Fatalf("Broker(%d) after Stop = running, want nil", old)
	}
	publish(t, js, 20*time.Second)
	if now := streamLeader(t, c, js); now == old {
		t.Fatalf("stream leader after Stop(%d) = %d, want another node", old, now)
	}
	c.Restart(old)
	c.WaitHealthy(old)

	// The restarted node may still be catching up: read through whichever
	// node answers.
	var msgs uint64
	brokertest.WaitFor(t, brokertest.Timeout, func() bool {
		info := streamInfo(js)
		if info != nil {
			msgs = info.State.Msgs
		}
		return info != nil
	}, "stream S's info")
	if msgs != 2 {
		t.Errorf("stream S holds %d messages, want 2", msgs)
	}
}

// TestClusterPartition: a partitioned leader loses its stream's
// leadership to the majority, its own clients hear nothing, and after
// Heal it catches up.
func TestClusterPartition(t *testing.T) {
	c := brokertest.StartCluster(t, 3)
	nc := c.Connect()
	js, _ := jetstream.New(nc)
	brokertest.CreateStream(t, js, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3})
	publish(t, js, 10*time.Second)
	cut := streamLeader(t, c, js)

	// A client of the cut node alone: it gets no answer, and no error
	// that would tell it why.
	alone := jetstreamFor(t, c, cut)
	c.Partition(cut)
	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	if _, err := alone.Publish(short, "s.x", []byte("lost")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("publish through the partitioned node = %v, want a timeout", err)
	}

	// The majority elects another leader and takes writes; the cluster
	// client fails over by its pings.
	publish(t, js, 20*time.Second)
	if now := streamLeader(t, c, js); now == cut {
		t.Fatalf("stream leader during the partition = %d, the partitioned node", now)
	}
	c.Heal(cut)
	c.WaitHealthy(cut)
	brokertest.WaitFor(t, brokertest.Timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := alone.Stream(ctx, "S")
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs >= 2
	}, "the healed node's client to see the majority's writes")
}

// jetstreamFor is a JetStream client connected to node i alone.
func jetstreamFor(t *testing.T, c *brokertest.Cluster, i int) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.URL(i), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return js
}
