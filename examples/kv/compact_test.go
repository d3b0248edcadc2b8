package kv_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

func logSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, "kv.log"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestLogFollowsLiveData: 1,000 Appends of 1,000 bytes to one key leave a
// log within twice the live data plus the compaction slack, not one that
// holds every old value (half a gigabyte), and it replays to the same
// value and saved reply.
func TestLogFollowsLiveData(t *testing.T) {
	b := brokertest.Start(t)
	dir := t.TempDir()
	_, stop := serve(t, b, dir)
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c, err := kv.NewClient(b.Connect(), rpcq.ExactlyOnce, rpcq.ClientConfig{SubjectPrefix: relay.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const appends, size = 1000, 1000
	chunk := strings.Repeat("x", size)
	for i := range appends {
		old, err := c.Append(ctx(t), "k", chunk)
		if err != nil || len(old) != i*size {
			t.Fatalf("Append %d = %d bytes, %v; want %d", i, len(old), err, i*size)
		}
	}
	const live = appends * size
	got, bound := logSize(t, dir), int64(2*live+kv.DefaultCompactSlack)
	t.Logf("log of %d bytes after %d Appends of %d bytes", got, appends, size)
	if got > bound {
		t.Errorf("log of %d bytes after %d Appends of %d bytes, want at most %d", got, appends, size, bound)
	}
	stop()
	serve(t, b, dir)
	if v, err := c.Get(ctx(t), "k"); err != nil || len(v) != live {
		t.Fatalf("Get(k) after restart = %d bytes, %v; want %d", len(v), err, live)
	}
	var last rpcqtest.Recorded
	for _, rec := range relay.Recorded() {
		if strings.HasSuffix(rec.Subject, ".Append") {
			last = rec
		}
	}
	reply := resendRecorded(t, b.Connect(), last)
	var old string
	if err := rpcq.Msgpack.Unmarshal(reply.Data, &old); err != nil || len(old) != live-size {
		t.Fatalf("retry of the last Append after restart = %d bytes, %v (%s); want its old value of %d", len(old), err, reply.Header.Get(rpcq.HeaderError), live-size)
	}
}

func resendRecorded(t *testing.T, nc *nats.Conn, rec rpcqtest.Recorded) *nats.Msg {
	t.Helper()
	reply, err := nc.RequestMsg(&nats.Msg{Subject: rec.Subject, Header: rec.Header, Data: rec.Data}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// TestCompactionKeepsCompletions: with a log compacted on nearly every
// change, the calls of several clients, including an Append whose old
// value a later Put replaced, are answered after a restart with their
// saved replies and not run again.
func TestCompactionKeepsCompletions(t *testing.T) {
	b := brokertest.Start(t)
	dir := t.TempDir()
	open := func() func() {
		s, err := kv.Open(dir, kv.Options{CompactSlack: 1})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := s.Serve(b.Connect(), rpcq.ExactlyOnce, rpcq.ServerConfig{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		return func() { srv.Shutdown(context.Background()); s.Close() }
	}
	stop := open()
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	want := map[string]string{} // each client's last request's data -> its old value
	var last []rpcqtest.Recorded
	for i := range 4 {
		c := newClient(t, b.Connect(), relay.Prefix())
		key := fmt.Sprint("k", i%2)
		for j := range 5 {
			if _, err := c.Append(ctx(t), key, strings.Repeat(strconv.Itoa(i), 100+j)); err != nil {
				t.Fatal(err)
			}
		}
		recs := relay.Recorded()
		last = append(last, recs[len(recs)-1])
	}
	// Replace k0's value: the saved old values of k0's Appends are no
	// longer a prefix of it, and must be kept apart.
	c := newClient(t, b.Connect(), "")
	if err := c.Put(ctx(t), "k0", "new"); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, k := range []string{"k0", "k1"} {
		v, err := c.Get(ctx(t), k)
		if err != nil {
			t.Fatal(err)
		}
		before[k] = v
	}
	raw := b.Connect()
	for _, rec := range last {
		want[string(rec.Data)] = string(resendRecorded(t, raw, rec).Data)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "kv.log.tmp")); err == nil {
		t.Errorf("kv.log.tmp left behind")
	}
	stop = open()
	defer stop()
	for _, rec := range last {
		reply := resendRecorded(t, raw, rec)
		if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "" || string(reply.Data) != want[string(rec.Data)] {
			t.Errorf("retry after restart = %s %s %d bytes, want the saved reply of %d bytes", code, reply.Header.Get(rpcq.HeaderError), len(reply.Data), len(want[string(rec.Data)]))
		}
	}
	for k, v := range before {
		if got, err := c.Get(ctx(t), k); err != nil || got != v {
			t.Errorf("Get(%s) after restart = %d bytes, %v; want %d: a retry ran again", k, len(got), err, len(v))
		}
	}
}

// TestKillMidCompaction kills a process appending to its log with
// SIGKILL at each stage of a compaction (while the new log is written,
// once written, once fsynced, once renamed over the old one) and at random
// points, and checks after each kill that every Append that returned is
// in the value once, in order, and nothing else is.
func TestKillMidCompaction(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(13, 5))
	acked := 0 // tokens whose Append returned
	for i, at := range []string{"writing", "written", "synced", "renamed", "", "", "writing", "renamed", "", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAppendChild$")
		cmd.Env = append(os.Environ(), "KV_APPEND_CHILD="+dir, "KV_STOP_AT="+at)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		stopAfter := acked + 1 + rng.IntN(40) // for a kill at a random point
		for lines.Scan() {
			if at != "" && lines.Text() == at {
				break // the child waits there to be killed
			}
			if n, err := strconv.Atoi(lines.Text()); err == nil {
				acked = max(acked, n)
				if at == "" && n >= stopAfter {
					break
				}
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		_, err = os.Stat(filepath.Join(dir, "kv.log.tmp"))
		if before := at != "" && at != "renamed"; before && err != nil {
			t.Errorf("kill %d at %q left no kv.log.tmp: %v", i, at, err)
		}
		s, err := kv.Open(dir, kv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var v string
		s.Get(context.Background(), kv.GetArgs{Key: "k"}, &v)
		s.Close()
		n := checkTokens(t, v)
		if n < acked {
			t.Fatalf("kill %d at %q: %d tokens, but %d Appends returned", i, at, n, acked)
		}
		acked = n
	}
}

// token is the i-th value the child appends: long enough that
// compactions take a while.
func token(i int) string { return fmt.Sprintf("<%06d>", i) + strings.Repeat(".", 2000) }

// checkTokens fails t unless v is tokens 0, 1, ... in order, and returns
// how many.
func checkTokens(t *testing.T, v string) int {
	t.Helper()
	n := 0
	for ; len(v) > 0; n++ {
		tok := token(n)
		if !strings.HasPrefix(v, tok) {
			t.Fatalf("token %d is not where it belongs: %.20q", n, v)
		}
		v = v[len(tok):]
	}
	return n
}

// TestAppendChild is the process TestKillMidCompaction kills: it appends
// tokens to the value of k after those already there, printing the count
// after each Append returns, and stops at the compaction stage
// $KV_STOP_AT, printing its name.
func TestAppendChild(t *testing.T) {
	dir := os.Getenv("KV_APPEND_CHILD")
	if dir == "" {
		return // run by TestKillMidCompaction only
	}
	if at := os.Getenv("KV_STOP_AT"); at != "" {
		kv.SetCompactHook(func(stage string) {
			if stage == at {
				fmt.Println(stage)
				select {} // until killed
			}
		})
	}
	s, err := kv.Open(dir, kv.Options{CompactSlack: 1})
	if err != nil {
		t.Fatal(err)
	}
	var v string
	s.Get(context.Background(), kv.GetArgs{Key: "k"}, &v)
	for i := checkTokens(t, v); ; i++ {
		var old string
		if err := s.Append(context.Background(), kv.AppendArgs{Key: "k", Arg: token(i)}, &old); err != nil {
			t.Fatal(err)
		}
		fmt.Println(i + 1)
	}
}
