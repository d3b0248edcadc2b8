package rpcq_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// The replicated benchmarks compare exactly-once calls whose KVTable is
// replicated three ways on a three-node cluster with the same on one
// node, in one run: baseline-R1 is one embedded server and a bucket of
// one replica; R1-cluster a bucket of one replica on brokertest's
// three-node cluster, whose every connection goes through a proxy; R3 a
// bucket of three replicas on that cluster. All run in this process, on
// the same cores.

// kvReplicasEnv starts the broker(s) of one row and an exactly-once echo
// service on them with its KVTable, and returns a client.
func kvReplicasEnv(b *testing.B, nodes, replicas int) *rpcq.Client {
	b.Helper()
	var serverNC, clientNC *nats.Conn
	if nodes == 1 {
		srv := brokertest.Start(b)
		serverNC, clientNC = srv.Connect(), srv.Connect()
	} else {
		c := brokertest.StartCluster(b, nodes)
		serverNC, clientNC = c.ConnectTo(0), c.ConnectTo(1)
	}
	js, err := jetstream.New(serverNC)
	if err != nil {
		b.Fatal(err)
	}
	var table *rpcq.KVTable
	for deadline := time.Now().Add(brokertest.Timeout); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		table, err = rpcq.NewKVTable(ctx, js, "BenchKV", rpcq.KVTableConfig{Replicas: replicas, Logger: quiet()})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the cluster places the bucket in a moment
	}
	b.Cleanup(table.Close)
	kvs, err := rpcq.NewServer(serverNC, rpcq.ServerConfig{Name: "BenchKV", Logger: quiet(), Table: table, Modes: map[string]rpcq.Mode{"Echo": rpcq.ExactlyOnce}})
	if err != nil {
		b.Fatal(err)
	}
	rpcq.HandleFunc(kvs, "Echo", func(ctx context.Context, p []byte) ([]byte, error) { return p, nil })
	if err := kvs.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kvs.Shutdown(context.Background()) })
	return client(b, clientNC, rpcq.ClientConfig{Modes: map[string]rpcq.Mode{"BenchKV.Echo": rpcq.ExactlyOnce}})
}

var kvReplicaRows = []struct {
	name            string
	nodes, replicas int
}{{"baseline-R1", 1, 1}, {"R1-cluster", 3, 1}, {"R3", 3, 3}}

// BenchmarkKVTableReplicas is one exactly-once call at a time with the
// KVTable on one node and replicated on three.
func BenchmarkKVTableReplicas(b *testing.B) {
	for _, row := range kvReplicaRows {
		b.Run(row.name, func(b *testing.B) {
			c := kvReplicasEnv(b, row.nodes, row.replicas)
			ctx := context.Background()
			var reply []byte
			for b.Loop() {
				if err := c.Call(ctx, "BenchKV.Echo", payload, &reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKVTableReplicasInFlight64 is 64 goroutines each making
// exactly-once calls, with the KVTable on one node and replicated on
// three; ns/op is the time per call, the inverse of throughput.
func BenchmarkKVTableReplicasInFlight64(b *testing.B) {
	for _, row := range kvReplicaRows {
		b.Run(row.name, func(b *testing.B) {
			c := kvReplicasEnv(b, row.nodes, row.replicas)
			parallel(b, func() error {
				var reply []byte
				return c.Call(context.Background(), "BenchKV.Echo", payload, &reply)
			})
		})
	}
}
