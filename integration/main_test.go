// Package integration runs Drover's real binaries as processes: it kills
// them with SIGKILL mid-stream and checks what survives.
package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
)

// bin is the directory of the binaries TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drover-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "../cmd/broker", "../cmd/kvserver", "../cmd/master", "../cmd/worker", "../cmd/drover")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: build binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running binary.
type process struct {
	testutil.SyncBuffer // what it writes
	cmd                 *exec.Cmd
	done                chan struct{}
}

// start runs binary name with args until kill or the end of t.
func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(filepath.Join(bin, name), args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits for the process to be gone.
func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// brokerProcess is the broker binary, restartable on its port and store.
type brokerProcess struct {
	*process
	t           *testing.T
	addr, store string
	flags       []string // beyond the address and the store
}

// startBroker runs the broker binary and returns its URL once it accepts
// connections.
func startBroker(t *testing.T) string { return runBroker(t).url() }

func runBroker(t *testing.T) *brokerProcess {
	t.Helper()
	b := &brokerProcess{t: t, addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), store: t.TempDir()}
	b.restart()
	return b
}

func (b *brokerProcess) url() string { return "nats://" + b.addr }

// restart starts the broker (again) and waits until it listens.
func (b *brokerProcess) restart() {
	b.t.Helper()
	b.process = start(b.t, "broker", append([]string{"--listen", b.addr, "--store", b.store, "--log-level", "warn"}, b.flags...)...)
	brokertest.WaitFor(b.t, 30*time.Second, func() bool {
		c, err := net.Dial("tcp", b.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "the broker to listen (output: %s)", b.process)
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
