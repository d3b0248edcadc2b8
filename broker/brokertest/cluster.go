package brokertest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker"
)

// ClusterName is the name of every cluster StartCluster runs.
const ClusterName = "drover-test"

// Cluster is a JetStream cluster of embedded brokers owned by one test,
// each node behind proxies this package controls: one for its clients and
// one for each route between two nodes. Its methods are safe for
// concurrent use, but Stop, Restart, Partition and Heal of one node must
// not run concurrently with each other.
type Cluster struct {
	t     testing.TB
	nodes []*clusterNode
	sink  net.Listener // the address nodes gossip: it closes what it accepts

	mu          sync.Mutex
	partitioned map[int]bool
}

// clusterNode is one broker of a Cluster and its proxies.
type clusterNode struct {
	cfg    broker.Config
	client *proxy         // clients -> this node
	routes map[int]*proxy // this node -> node j, by j

	mu sync.Mutex
	b  *broker.Broker // nil while stopped
}

// StartCluster runs a JetStream cluster of n embedded brokers for t (n is
// usually 3: a quorum survives one node), each with its store under
// t.TempDir() and random ports, and returns once the cluster has a
// JetStream meta leader that counts every node among its peers. The
// cluster is stopped at cleanup. Failure to start fails the test.
//
// Clients reach node i at URL(i) and the cluster at URLs(), through a
// proxy: the nodes advertise the proxies' addresses to clients, so that a
// client's failover goes through them too. The nodes reach each other
// through a proxy for each ordered pair, and gossip no address that works,
// so no route bypasses the proxies. That is what makes Partition real: a
// partitioned node neither hears its peers nor its clients, and nobody is
// told.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 2 {
		t.Fatalf("brokertest: a cluster of %d nodes", n)
	}
	// The cluster ports are chosen before any node binds them (each
	// node's routes name the others'), so another process may take one in
	// between: then the cluster starts again on fresh ports.
	for attempt := 1; ; attempt++ {
		c, err := startCluster(t, n)
		if err == nil {
			t.Cleanup(c.close)
			c.WaitMetaLeader()
			return c
		}
		c.close()
		// The server reports a failed bind through its log, as text.
		if !strings.Contains(err.Error(), "address already in use") || attempt == 3 {
			t.Fatalf("brokertest: %v", err)
		}
	}
}

// startCluster makes and starts the nodes of one StartCluster attempt.
// On error the caller closes what it made.
func startCluster(t testing.TB, n int) (*Cluster, error) {
	c := &Cluster{t: t, partitioned: map[int]bool{}}
	var err error
	if c.sink, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return c, err
	}
	go func() {
		for {
			conn, err := c.sink.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	clusterPorts, err := reservePorts(n)
	if err != nil {
		return c, err
	}
	for range n {
		c.nodes = append(c.nodes, &clusterNode{routes: map[int]*proxy{}})
	}
	for i, node := range c.nodes {
		if node.client, err = newProxy(node.clientAddr); err != nil {
			return c, err
		}
		var routes []string
		for j := range n {
			if j == i {
				continue
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(clusterPorts[j]))
			if node.routes[j], err = newProxy(func() string { return addr }); err != nil {
				return c, err
			}
			routes = append(routes, "nats://"+node.routes[j].addr())
		}
		node.cfg = broker.Config{
			Port:             broker.RandomPort,
			StoreDir:         t.TempDir(),
			ServerName:       fmt.Sprint("n", i),
			ClientAdvertise:  node.client.addr(),
			ClusterName:      ClusterName,
			ClusterHost:      "127.0.0.1",
			ClusterPort:      clusterPorts[i],
			ClusterAdvertise: c.sink.Addr().String(),
			Routes:           routes,
			Logger:           slog.New(slog.DiscardHandler),
		}
	}
	// Every node waits for a quorum: start them together.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Go(func() { errs[i] = c.start(i) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return c, fmt.Errorf("start node %d: %w", i, err)
		}
	}
	return c, nil
}

// reservePorts finds n free loopback ports. Another process may take one
// before it is bound again.
func reservePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// clientAddr is the node's own client address, empty while it is stopped.
func (n *clusterNode) clientAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.b == nil {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.b.Port()))
}

func (n *clusterNode) broker() *broker.Broker {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.b
}

// start starts node i on its ports and store and waits until it is
// healthy: in a cluster with a meta leader and current with its streams.
func (c *Cluster) start(i int) error {
	node := c.nodes[i]
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	b, err := broker.Start(ctx, node.cfg)
	if err != nil {
		return err
	}
	node.mu.Lock()
	node.b = b
	node.cfg.Port = b.Port() // a restart comes back where clients expect it
	node.mu.Unlock()
	return nil
}

// N is the number of nodes.
func (c *Cluster) N() int { return len(c.nodes) }

// URL is node i's client URL, through its proxy.
func (c *Cluster) URL(i int) string { return "nats://" + c.nodes[i].client.addr() }

// URLs are every node's client URL, comma-separated, for nats.Connect and
// the binaries' --nats.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// Name is node i's server name, as StreamInfo's Cluster.Leader says it.
func (c *Cluster) Name(i int) string { return c.nodes[i].cfg.ServerName }

// Index is the index of the node named name, or -1.
func (c *Cluster) Index(name string) int {
	for i := range c.nodes {
		if c.Name(i) == name {
			return i
		}
	}
	return -1
}

// Broker is node i's broker, nil while it is stopped.
func (c *Cluster) Broker(i int) *broker.Broker { return c.nodes[i].broker() }

// Connect dials every node, fails t on error, and closes the connection at
// cleanup. It retries reconnection forever, and pings every 250ms so that
// it notices a silent partition of its node within a second and fails
// over; the nats.go default would take minutes.
func (c *Cluster) Connect(opts ...nats.Option) *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs(), append(c.clientOptions(), opts...)...)
	if err != nil {
		c.t.Fatalf("brokertest: connect: %v", err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// ConnectTo is Connect with node i first: the connection starts on node i
// and, when it fails over, tries the others in order, so that a test can
// place its clients on the nodes it means to fault.
func (c *Cluster) ConnectTo(i int, opts ...nats.Option) *nats.Conn {
	c.t.Helper()
	urls := []string{c.URL(i)}
	for j := range c.nodes {
		if j != i {
			urls = append(urls, c.URL(j))
		}
	}
	nc, err := nats.Connect(strings.Join(urls, ","), append(c.clientOptions(), append([]nats.Option{nats.DontRandomize()}, opts...)...)...)
	if err != nil {
		c.t.Fatalf("brokertest: connect to node %d: %v", i, err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// clientOptions are what Connect and ConnectTo give every connection.
func (c *Cluster) clientOptions() []nats.Option {
	return []nats.Option{
		nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond),
		nats.PingInterval(250 * time.Millisecond), nats.MaxPingsOutstanding(3),
	}
}

// Stop stops node i hard, as SIGKILL would: its peers and clients see its
// connections close with no goodbye (no leadership handed over), and
// nothing answers on its ports until Restart.
func (c *Cluster) Stop(i int) {
	node := c.nodes[i]
	node.mu.Lock()
	b := node.b
	node.b = nil
	node.mu.Unlock()
	if b == nil {
		return
	}
	// Silence first, so that what the server says as it shuts down
	// (leaders stepping down) reaches nobody; then the kernel's part of
	// a process's death: every connection closed.
	ps := c.proxiesOf(i)
	for _, p := range ps {
		p.setCut(true)
		p.drop()
	}
	b.Close()
	for _, p := range ps {
		p.drop()
	}
	c.apply()
}

// Restart stops node i hard if it runs and starts it again on its own
// ports and store, and returns once it is healthy: connected to a quorum,
// with a meta leader, and current with the streams it holds. Failure
// fails the test.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	if err := c.start(i); err != nil {
		c.t.Fatalf("brokertest: restart node %d: %v", i, err)
	}
}

// Partition cuts node i off from the other nodes and from its clients,
// silently: no connection closes, what is in flight waits, and new
// connections to it hang, until Heal(i). The node keeps running. Clients
// notice only by their own pings (see Connect).
func (c *Cluster) Partition(i int) {
	c.mu.Lock()
	c.partitioned[i] = true
	c.mu.Unlock()
	c.apply()
}

// Heal ends node i's partition: held traffic flows again, and the node
// rejoins the cluster. It does not wait for that; see WaitMetaLeader and
// WaitHealthy.
func (c *Cluster) Heal(i int) {
	c.mu.Lock()
	delete(c.partitioned, i)
	c.mu.Unlock()
	c.apply()
}

// proxiesOf returns node i's client proxy and every route proxy to or
// from it.
func (c *Cluster) proxiesOf(i int) []*proxy {
	ps := []*proxy{c.nodes[i].client}
	for j, node := range c.nodes {
		if j == i {
			for _, p := range node.routes {
				ps = append(ps, p)
			}
		} else {
			ps = append(ps, node.routes[i])
		}
	}
	return ps
}

// apply cuts each proxy that touches a partitioned node and opens the
// others.
func (c *Cluster) apply() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, node := range c.nodes {
		node.client.setCut(c.partitioned[i])
		for j, p := range node.routes {
			p.setCut(c.partitioned[i] || c.partitioned[j])
		}
	}
}

// WaitMetaLeader waits until a running node is the JetStream meta leader
// and counts every node among its online peers, and every running node is
// current with it, as nats-server's own cluster tests wait; it fails t if
// that does not happen within Timeout.
func (c *Cluster) WaitMetaLeader() {
	c.t.Helper()
	WaitFor(c.t, Timeout, func() bool {
		led := false
		for i := range c.nodes {
			b := c.Broker(i)
			if b == nil {
				continue
			}
			if !b.Server().JetStreamIsCurrent() {
				return false
			}
			led = led || b.Server().JetStreamIsLeader() && len(b.Server().JetStreamClusterPeers()) == len(c.nodes)
		}
		return led
	}, "a JetStream meta leader with %d peers", len(c.nodes))
}

// WaitHealthy waits until node i passes its health check (a meta leader
// known, its streams current), and fails t if it does not within Timeout.
func (c *Cluster) WaitHealthy(i int) {
	c.t.Helper()
	WaitFor(c.t, Timeout, func() bool {
		b := c.Broker(i)
		if b == nil {
			return false
		}
		st := b.Server().Healthz(nil)
		return st.Error == "" && len(st.Errors) == 0
	}, "node %d to be healthy", i)
}

// close stops every node and proxy.
func (c *Cluster) close() {
	var wg sync.WaitGroup
	for _, node := range c.nodes {
		if b := node.broker(); b != nil {
			wg.Go(b.Close)
		}
	}
	wg.Wait()
	for _, node := range c.nodes {
		if node.client != nil {
			node.client.close()
		}
		for _, p := range node.routes {
			if p != nil {
				p.close()
			}
		}
	}
	if c.sink != nil {
		c.sink.Close()
	}
}

// CreateStream creates the stream cfg names through js and returns it,
// asking again, as a client of a cluster must, while the cluster cannot
// answer or place it for a moment: a request lost to a leader election,
// or 10005 (no suitable peers) while a peer catches up. It fails t if the
// stream is not made within Timeout.
func CreateStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.CreateStream(ctx, cfg)
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokertest: create stream %s: %v", cfg.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
