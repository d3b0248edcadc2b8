package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
)

// binaries are every binary TestMain builds.
var binaries = []string{"broker", "kvserver", "master", "worker", "drover"}

// exitOf runs binary name with args to its end and returns its exit
// status, standard output and standard error.
func exitOf(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.CommandContext(timeout(t, time.Minute), filepath.Join(bin, name), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return 0, stdout.String(), stderr.String()
}

// exitStatus is p's exit status once it has ended.
func (p *process) exitStatus(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still runs 30 s after its signal; output: %s", p.cmd.Path, p)
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestEveryBinaryHasVersionAndHelp(t *testing.T) {
	for _, name := range binaries {
		code, out, errOut := exitOf(t, name, "--version")
		if code != 0 || !strings.HasPrefix(out, name+" ") || !strings.Contains(out, "go1.") || errOut != "" {
			t.Errorf("%s --version: exit %d, %q %q", name, code, out, errOut)
		}
		code, _, errOut = exitOf(t, name, "-h")
		if lines := strings.Split(errOut, "\n"); code != 0 || len(lines) < 4 || !strings.HasPrefix(lines[0], "Usage: "+name) || lines[2] == "" {
			t.Errorf("%s -h: exit %d, want a usage line and a description:\n%s", name, code, errOut)
		}
	}
}

// TestUsageErrorsExit2: a bad flag or value is one line on stderr and
// status 2, in every binary.
func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"broker", []string{"--bogus"}, "broker: flag provided but not defined: -bogus"},
		{"broker", []string{"--max-payload", "-1"}, "broker: --max-payload -1: want 1 to"},
		{"master", []string{"--lease", "0s"}, "master: --lease 0s: want a positive duration"},
		{"master", []string{"--replicas", "-1"}, "master: --replicas -1: want 1 to 5"},
		{"worker", []string{"--slots", "0"}, "worker: --slots 0: want at least 1"},
		{"worker", []string{"--slots", "-1"}, "worker: --slots -1: want at least 1"},
		{"worker", []string{"--slow-factor", "0.5"}, "worker: --slow-factor 0.5: want 1 or more"},
		{"worker", []string{"--shared-root", "/nonexistent/drover"}, "worker: --shared-root /nonexistent/drover: want an existing directory"},
		{"kvserver", []string{}, "kvserver: --data is required"},
		{"kvserver", []string{"--data", "x", "--mode", "twice"}, `kvserver: --mode "twice": want exactly-once or at-most-once`},
		{"drover", []string{"submit", "--app", "wordcount", "--split-size", "0", "x"}, "drover: --split-size 0: want"},
		{"drover", []string{"frobnicate"}, `drover: unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		code, _, errOut := exitOf(t, tt.name, tt.args...)
		if code != 2 || !strings.HasPrefix(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s %q: exit %d, %q; want 2 and one line starting %q", tt.name, tt.args, code, errOut, tt.want)
		}
	}
}

// TestDaemonsWaitForTheBroker: started before their broker, as `broker &
// master & worker &` does, the daemons say they wait and then serve; a
// one-shot command says at once that no broker answers; SIGTERM stops
// every daemon with status 0.
func TestDaemonsWaitForTheBroker(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	url := "nats://" + addr
	data := t.TempDir()
	daemons := []*process{
		start(t, "master", "--nats", url),
		start(t, "worker", "--nats", url),
		start(t, "kvserver", "--nats", url, "--data", data),
	}
	ready := []string{"master: running", "worker ready", "kvserver ready"}
	for _, p := range daemons {
		brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(p.String(), "waiting for NATS to answer") }, "%s to say it waits (output: %s)", p.cmd.Path, p)
	}
	code, _, errOut := exitOf(t, "drover", "jobs", "--nats", url)
	if want := "drover: no NATS server answers at " + url + "\n"; code != 1 || errOut != want {
		t.Errorf("drover jobs with no broker: exit %d, %q; want 1 and %q", code, errOut, want)
	}

	b := &brokerProcess{t: t, addr: addr, store: t.TempDir()}
	b.restart()
	code, out, errOut := exitOf(t, "drover", "ready", "--nats", url, "--service", "Master", "--service", "KV", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("drover ready: exit %d, %q %q", code, out, errOut)
	}
	for i, p := range daemons {
		brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(p.String(), ready[i]) }, "%s to be ready (output: %s)", p.cmd.Path, p)
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.exitStatus(t); code != 0 {
			t.Errorf("%s after SIGTERM: exit %d, want 0; output: %s", p.cmd.Path, code, p)
		}
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if code := b.exitStatus(t); code != 0 {
		t.Errorf("broker after SIGTERM: exit %d, want 0", code)
	}
}

// TestConnectWaitBounds: --connect-wait makes a daemon give up, in one line.
func TestConnectWaitBounds(t *testing.T) {
	url := "nats://127.0.0.1:" + strconv.Itoa(freePort(t))
	code, _, errOut := exitOf(t, "worker", "--nats", url, "--connect-wait", "500ms", "--log-level", "error")
	if want := "worker: no NATS server answered at " + url + " within --connect-wait 500ms\n"; code != 1 || errOut != want {
		t.Errorf("worker with nothing to connect to: exit %d, %q; want 1 and %q", code, errOut, want)
	}
}

// TestInterruptedCommand: SIGINT ends a waiting drover with status 130
// and one short line.
func TestInterruptedCommand(t *testing.T) {
	d := deploy(t, 0) // no worker: the job waits for ever
	file := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(file, []byte("a b\n"), 0o644)
	p := start(t, "drover", "submit", "--nats", d.url, "--app", "wordcount", "--wait", file)
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(p.String(), "map 0/1") }, "the progress line (output: %s)", p)
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.exitStatus(t); code != 130 || !strings.HasSuffix(p.String(), "\ndrover: interrupted\n") {
		t.Errorf("drover submit --wait after SIGINT: exit %d, output %q; want 130 and 'drover: interrupted'", code, p.String())
	}
}

// TestSecretsNotLogged: a password in the URL appears in no log line.
func TestSecretsNotLogged(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := start(t, "broker", "--listen", addr, "--store", t.TempDir(), "--user", "alice", "--password", "s3cret")
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(p.String(), "broker ready") }, "the broker (output: %s)", p)
	kv := start(t, "kvserver", "--nats", "nats://alice:s3cret@"+addr, "--data", t.TempDir())
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(kv.String(), "kvserver ready") }, "the kvserver (output: %s)", kv)
	code, _, errOut := exitOf(t, "drover", "jobs", "--nats", "nats://alice:wrong@"+addr)
	for what, out := range map[string]string{"broker": p.String(), "kvserver": kv.String(), "drover": errOut} {
		if strings.Contains(out, "s3cret") || strings.Contains(out, "wrong") {
			t.Errorf("%s printed the password: %s", what, out)
		}
	}
	if code != 1 || !strings.Contains(errOut, "nats://"+addr) {
		t.Errorf("drover with a wrong password: exit %d, %q", code, errOut)
	}
}
