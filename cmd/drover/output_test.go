package main

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// TestOutputReadAgainWhileNotFound: an output the master does not find
// for now (a replica behind) is asked for again until it is, and written
// whole; one still not found after staleReadWait fails with the master's
// words, and leaves no file.
func TestOutputReadAgainWhileNotFound(t *testing.T) {
	defer func(wait time.Duration) { staleReadWait = wait }(staleReadWait)
	staleReadWait = 2 * time.Second
	b := brokertest.Start(t)
	data := []byte("a 1\nb 2\n")
	h := sha256.New()
	h.Write(data)
	digest := jetstream.GetObjectDigestValue(h)
	var mu sync.Mutex
	notFound := map[int]int{0: 3, 1: 1 << 30} // output 1 is never found
	srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: mr.MasterService})
	if err != nil {
		t.Fatal(err)
	}
	err = rpcq.HandleFunc(srv, mr.MethodOutput, func(_ context.Context, a master.OutputArgs) (master.OutputPiece, error) {
		mu.Lock()
		defer mu.Unlock()
		if notFound[a.Partition] > 0 {
			notFound[a.Partition]--
			return master.OutputPiece{}, rpcq.Errorf(master.CodeNotYet, "output %d is not found for now", a.Partition)
		}
		return master.OutputPiece{Data: data, Next: 7, Size: uint64(len(data)), Digest: digest}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	nc := b.Connect()
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	m := &masterClient{nc: nc, client: client}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir := t.TempDir()
	if err := writeOutputs(ctx, m, master.JobStatus{ID: "j", Outputs: []string{"o0"}}, dir, nil); err != nil {
		t.Fatalf("writeOutputs of an output found at the fourth call: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, mr.OutputFile(0))); err != nil || string(got) != string(data) {
		t.Errorf("output 0 = %q, %v; want %q", got, err, data)
	}
	start, dir := time.Now(), t.TempDir()
	err = writeOutputs(ctx, m, master.JobStatus{ID: "j", Outputs: []string{"o0", "o1"}}, dir, nil)
	if took := time.Since(start); err == nil || took < staleReadWait/2 {
		t.Errorf("writeOutputs of an output never found = %v after %v; want the master's words after about %v", err, took, staleReadWait)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, mr.OutputFile(1)+"*")); len(files) > 0 {
		t.Errorf("left behind: %v", files)
	}
}
