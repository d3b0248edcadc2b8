package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
)

// clusterConfigs are the configs of an n-node cluster on free loopback
// ports, every node with the same routes.
func clusterConfigs(t *testing.T, n int) []broker.Config {
	t.Helper()
	var routes []string
	ports := make([]int, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	cfgs := make([]broker.Config, n)
	for i := range n {
		cfgs[i] = broker.Config{
			Port: broker.RandomPort, StoreDir: t.TempDir(), ServerName: fmt.Sprint("n", i),
			ClusterName: "c", ClusterHost: "127.0.0.1", ClusterPort: ports[i], Routes: routes,
			SyncInterval: time.Second, Logger: quiet(),
		}
	}
	return cfgs
}

// TestClusterNodeWaitsForQuorum: a cluster node started with a context
// without deadline waits for its peers, with no DefaultStartTimeout of its
// own, and the cluster then replicates.
func TestClusterNodeWaitsForQuorum(t *testing.T) {
	cfgs := clusterConfigs(t, 3)
	first := make(chan error, 1)
	var b0 *broker.Broker
	go func() {
		var err error
		b0, err = broker.Start(context.Background(), cfgs[0])
		first <- err
	}()
	select {
	case err := <-first:
		t.Fatalf("a lone cluster node's Start returned %v, want it waiting for its peers", err)
	case <-time.After(1500 * time.Millisecond):
	}
	var wg sync.WaitGroup
	bs := make([]*broker.Broker, 3)
	for i := 1; i < 3; i++ {
		wg.Go(func() {
			b, err := start(t, cfgs[i])
			if err != nil {
				t.Errorf("Start node %d: %v", i, err)
			}
			bs[i] = b
		})
	}
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("Start node 0: %v", err)
	}
	t.Cleanup(b0.Close)
	if t.Failed() {
		return
	}
	if b0.ClusterPort() != cfgs[0].ClusterPort {
		t.Errorf("ClusterPort() = %d, want %d", b0.ClusterPort(), cfgs[0].ClusterPort)
	}
	nc, err := b0.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// A quorum is ready; the third peer may take a moment more to be
	// current, and until then an R3 stream cannot be placed (10005).
	s := brokertest.CreateStream(t, js, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3})
	if got := len(s.CachedInfo().Cluster.Replicas); got != 2 {
		t.Errorf("stream S has %d replicas besides its leader, want 2", got)
	}
}

// TestClusterNodeAloneSaysWhy: a node whose peers never come is not
// ready when its context ends, and the error says what it waited for.
func TestClusterNodeAloneSaysWhy(t *testing.T) {
	cfg := clusterConfigs(t, 3)[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b, err := broker.Start(ctx, cfg)
	if err == nil {
		b.Close()
		t.Fatal("Start of a lone cluster node succeeded")
	}
	if !errors.Is(err, broker.ErrNotReady) || !strings.Contains(err.Error(), "JetStream") || !strings.Contains(err.Error(), "connected to 0 other nodes") {
		t.Errorf("Start() = %v, want ErrNotReady naming JetStream and the nodes connected", err)
	}
}
