package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/local"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// drover runs the CLI and returns its exit code and output.
func drover(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := exitCode(run(ctx, args, &stdout, &stderr), &stderr)
	return code, stdout.String(), stderr.String()
}

func TestSubmitStatusJobsGet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := local.Start(ctx, local.Config{Workers: 2, Apps: builtinApps()})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	url := cluster.URL()
	files, _ := filepath.Glob("../../examples/data/*.txt")

	code, out, errOut := drover(t, append([]string{"submit", "--nats", url, "--app", "indexer", "-r", "2", "--split-size", "65536", "--wait"}, files...)...)
	if code != 0 {
		t.Fatalf("submit exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)

	code, out, errOut = drover(t, "status", id, "--nats", url)
	if code != 0 || !strings.Contains(out, "done") || !regexp.MustCompile(`reduces\s+2/2`).MatchString(out) {
		t.Errorf("status exit %d:\n%s%s", code, out, errOut)
	}
	code, out, _ = drover(t, "jobs", "--nats", url)
	if code != 0 || !strings.Contains(out, id) {
		t.Errorf("jobs exit %d:\n%s", code, out)
	}
	// Without permissions, a name is whatever a command says (--as).
	code, out, errOut = drover(t, "submit", "--nats", url, "--as", "alice", "--app", "wordcount", "--wait", files[0])
	if code != 0 {
		t.Fatalf("submit --as alice exit %d: %s", code, errOut)
	}
	alices := strings.TrimSpace(out)
	for _, tt := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"jobs", "--by", "alice"}, alices, id},
		{[]string{"jobs", "--as", "alice"}, alices, id},
		{[]string{"jobs"}, id, ""},
	} {
		code, out, errOut = drover(t, append(tt.args, "--nats", url)...)
		if code != 0 || !strings.Contains(out, tt.want) || (tt.not != "" && strings.Contains(out, tt.not)) {
			t.Errorf("drover %v exit %d, %s:\n%s\nwant %s in it, and not %q", tt.args, code, errOut, out, tt.want, tt.not)
		}
	}
	if code, _, errOut = drover(t, "jobs", "--by", "a.b", "--nats", url); code != 2 || !strings.Contains(errOut, "--by") {
		t.Errorf("jobs --by a.b: exit %d, %s; want a usage error", code, errOut)
	}
	dir := t.TempDir()
	if code, _, errOut = drover(t, "get", id, "-o", dir, "--nats", url); code != 0 {
		t.Fatalf("get exit %d: %s", code, errOut)
	}
	var inputs []mr.NamedInput
	for _, f := range files {
		data, _ := os.ReadFile(f)
		inputs = append(inputs, mr.NamedInput{Name: filepath.Base(f), Data: data})
	}
	app, _ := builtinApps().New("indexer", nil)
	want, _ := mr.Sequential(ctx, app, inputs, 2)
	for r := range want {
		got, err := os.ReadFile(filepath.Join(dir, mr.OutputFile(r)))
		if err != nil || !bytes.Equal(got, want[r]) {
			t.Errorf("%s: %d bytes, want %d identical to the sequential index", mr.OutputFile(r), len(got), len(want[r]))
		}
	}

	// An output rewritten after its reduce (by anyone who may write
	// objects) is refused: its digest is not the one the commit recorded.
	st, _ := cluster.Master.Status(id)
	if _, err := cluster.Store.Data.PutBytes(ctx, st.Outputs[1], []byte("forged 1\n")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = drover(t, "get", id, "-o", t.TempDir(), "--nats", url)
	if code != 1 || !strings.Contains(errOut, "output changed since its task wrote it") {
		t.Errorf("get of a rewritten output: exit %d, %q", code, errOut)
	}

	code, out, errOut = drover(t, "cancel", id, "--nats", url)
	if want := "job " + id + " had already ended: done; nothing to cancel\n"; code != 0 || out != want {
		t.Errorf("cancel of a done job: exit %d, %q %q; want 0 and %q", code, out, errOut, want)
	}
	code, out, errOut = drover(t, "delete", id, "--nats", url)
	if code != 0 || !regexp.MustCompile(`^job `+id+` deleted, with [1-9][0-9]* output objects\n$`).MatchString(out) {
		t.Errorf("delete of a done job: exit %d, %q %q", code, out, errOut)
	}
	for _, args := range [][]string{{"status", "nope"}, {"get", "nope", "-o", dir}, {"cancel", "nope"}, {"delete", "nope"}, {"status", id}} {
		code, _, errOut := drover(t, append(args, "--nats", url)...)
		if code != 1 || errOut != "drover: no job "+args[1]+"\n" {
			t.Errorf("drover %v: exit %d, %q; want 1 and 'drover: no job nope'", args, code, errOut)
		}
	}
}

func TestCancelRunningJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := local.Start(ctx, local.Config{Workers: 1, Apps: builtinApps(true), AllowExec: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	url := cluster.URL()
	file := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(file, []byte("a\n"), 0o644)

	// A mapper that never ends keeps the job running until it is cancelled.
	code, out, errOut := drover(t, "submit", "--nats", url, "--app", "streaming", "--arg", "exec sleep 600", "--arg", "cat", file)
	if code != 0 {
		t.Fatalf("submit exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	code, out, errOut = drover(t, "delete", id, "--nats", url)
	if want := "drover: job " + id + " is mapping: cancel it first\n"; code != 1 || errOut != want {
		t.Errorf("delete of a running job: exit %d, %q %q; want 1 and %q", code, out, errOut, want)
	}
	code, out, errOut = drover(t, "cancel", id, "--nats", url)
	if code != 0 || out != "job "+id+" cancelled\n" {
		t.Errorf("cancel: exit %d, %q %q; want 0 and the line saying it was cancelled", code, out, errOut)
	}
	_, out, _ = drover(t, "status", id, "--nats", url)
	if !regexp.MustCompile(`state\s+cancelled`).MatchString(out) {
		t.Errorf("status after cancel:\n%s", out)
	}
}

// TestNoMaster: with a broker but no master, every command that needs one
// says so at once, naming the subjects it found nobody on.
func TestNoMaster(t *testing.T) {
	b := brokertest.Start(t)
	url := b.ClientURL()
	file := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(file, []byte("a\n"), 0o644)
	for _, args := range [][]string{{"jobs"}, {"status", "x"}, {"cancel", "x"}, {"delete", "x"}, {"get", "x", "-o", t.TempDir()}, {"submit", "--app", "wordcount", file}} {
		start := time.Now()
		code, _, errOut := drover(t, append(args, "--nats", url)...)
		want := "drover: no master is running (no responders on rpcq.Master.* at " + url + ")\n"
		if code != 1 || errOut != want {
			t.Errorf("drover %v: exit %d, %q; want 1 and %q", args, code, errOut, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("drover %v took %v to say no master runs", args, d)
		}
	}
}

// TestMasterTakingOver: with no master answering but a standby, as while
// a standby takes a dead leader's lease, a command waits for the master
// that then leads, past findMasterWait, rather than say none runs.
func TestMasterTakingOver(t *testing.T) {
	b := brokertest.Start(t)
	standby, err := micro.AddService(b.Connect(), micro.Config{Name: mr.MasterStandbyService, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Stop()
	leads := findMasterWait + time.Second
	go func() {
		time.Sleep(leads) // the standby's takeover, as the test stages it
		srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: mr.MasterService})
		if err != nil {
			t.Error(err)
			return
		}
		rpcq.HandleFunc(srv, mr.MethodListPage, func(context.Context, master.ListArgs) (master.ListPage, error) {
			return master.ListPage{}, nil
		})
		if err := srv.Start(); err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { srv.Shutdown(context.Background()) })
	}()
	start := time.Now()
	code, _, errOut := drover(t, "jobs", "--nats", b.ClientURL())
	if took := time.Since(start); code != 0 || took < leads {
		t.Errorf("drover jobs while a standby takes over: exit %d after %v, %q; want 0 once the master answers, after %v", code, took, errOut, leads)
	}
}

// TestNoBroker: with nothing at the URL, a command fails at once in one line.
func TestNoBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{{"jobs"}, {"status", "x"}, {"call", "A.B"}, {"time"}, {"services"}} {
		start := time.Now()
		code, _, errOut := drover(t, append(args, "--nats", url)...)
		if want := "drover: no NATS server answers at " + url + "\n"; code != 1 || errOut != want {
			t.Errorf("drover %v: exit %d, %q; want 1 and %q", args, code, errOut, want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("drover %v took %v to say no broker answers", args, d)
		}
	}
}
