package apps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/drover-dev/drover/mr"
)

// ErrExecNotAllowed is the error of a streaming task on a worker that was
// not allowed to run commands.
var ErrExecNotAllowed = errors.New("streaming runs commands, and this worker was not started with --allow-exec")

// ErrLineTooLong is the error of a streaming command that printed a line
// longer than MaxLineSize: its attempt fails rather than hold it.
var ErrLineTooLong = fmt.Errorf("printed a line longer than %d bytes", MaxLineSize)

// MaxLineSize bounds a line a streaming command prints, so that what the
// worker holds of a command's output at once is bounded too.
const MaxLineSize = 1 << 20

const (
	// killGrace is how long a command's processes have to exit after
	// SIGTERM, when their task ends, before SIGKILL.
	killGrace = 500 * time.Millisecond
	// drainGrace bounds reading a command's output once its process group
	// is gone: only a process that left the group can hold the pipes.
	drainGrace = time.Second
)

// inherited are the worker's environment variables a command gets.
var inherited = []string{"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}

// RegisterStreaming adds the streaming app to reg. Only a process that
// allows running commands can run its tasks; elsewhere a streaming task
// fails at once with ErrExecNotAllowed, and its job says so.
func RegisterStreaming(reg *mr.Registry, allowExec bool) error {
	return reg.Register("streaming", func(args []string) (mr.App, error) {
		s, err := NewStreaming(args)
		if err != nil {
			return nil, err
		}
		s.allowed = allowExec
		return s, nil
	})
}

// Streaming runs a mapper and a reducer command, as Hadoop Streaming does,
// so that they can be written in any language. Each runs with `sh -c`,
// once per task. The mapper reads its split's lines on standard input and
// writes `key<TAB>value` lines (a line without a tab is a key with an
// empty value). The reducer reads its partition's `key<TAB>value` lines
// sorted by key and writes the output lines. Both get MR_JOB_ID,
// MR_TASK_ID, MR_ATTEMPT and MR_WORKER_ID in their environment, the mapper
// MR_INPUT and the reducer MR_PARTITION; of the worker's environment they
// get only PATH, HOME, LANG, LC_ALL and TMPDIR, so that no NATS setting or
// credential reaches them. A non-zero exit fails the attempt with the end
// of the command's standard error, and so does a line of output longer
// than MaxLineSize. Output is read as it is printed, line by line.
//
// Each command leads a process group of its own. When its task ends (its
// deadline, its job's cancellation, the worker stopping) the group gets
// SIGTERM, and SIGKILL half a second later; when the command exits, any
// process it left behind gets SIGKILL. No process of a task outlives it.
type Streaming struct {
	mapper, reducer string
	allowed         bool
}

// NewStreaming makes a streaming app of args: the mapper command, then the
// reducer command.
func NewStreaming(args []string) (*Streaming, error) {
	if len(args) != 2 || args[0] == "" || args[1] == "" {
		return nil, fmt.Errorf("takes two arguments, the mapper and the reducer commands; got %d", len(args))
	}
	return &Streaming{mapper: args[0], reducer: args[1]}, nil
}

func (*Streaming) Name() string    { return "streaming" }
func (*Streaming) Version() string { return "1" }

// Map and Reduce are not used: streaming runs whole tasks (MapSplit,
// ReducePartition).
func (*Streaming) Map(context.Context, mr.Record, mr.Emit) error {
	return errors.New("streaming maps whole splits")
}

func (*Streaming) Reduce(context.Context, string, iter.Seq[string]) (string, error) {
	return "", errors.New("streaming reduces whole partitions")
}

// MapSplit feeds the split's lines to the mapper and emits what it
// prints, line by line as it prints it.
func (s *Streaming) MapSplit(ctx context.Context, recs iter.Seq2[mr.Record, error], emit mr.Emit) error {
	// RunMap counts what recs yields and what emit gets in one Counters:
	// the feeding and the reading take turns at it.
	var mu sync.Mutex
	next, stop := iter.Pull2(recs)
	defer stop()
	feed := func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for {
			mu.Lock()
			rec, _, ok := next() // RunMap's recs end at a read error, which it reports
			mu.Unlock()
			if !ok {
				break
			}
			bw.WriteString(rec.Text)
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	read := func(r io.Reader) error {
		return eachLine(r, func(line string) error {
			key, value, _ := strings.Cut(line, "\t")
			mu.Lock()
			defer mu.Unlock()
			return emit(key, value)
		})
	}
	return s.run(ctx, s.mapper, feed, read)
}

// ReducePartition feeds the partition's pairs to the reducer and copies
// what it prints to w as it prints it.
func (s *Streaming) ReducePartition(ctx context.Context, pairs iter.Seq2[string, string], w io.Writer) error {
	feed := func(in io.Writer) error {
		bw := bufio.NewWriter(in)
		for k, v := range pairs {
			bw.WriteString(k)
			bw.WriteByte('\t')
			bw.WriteString(v)
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	read := func(r io.Reader) error {
		_, err := io.Copy(&lineLimit{w: w}, r)
		return err
	}
	return s.run(ctx, s.reducer, feed, read)
}

// run runs command with feed writing its standard input and read reading
// its standard output, concurrently. The command leads a process group of
// its own, and nothing of the group outlives run: when ctx ends the group
// gets SIGTERM, then SIGKILL after killGrace; when the command exits, or
// read fails, whatever it left running gets SIGKILL.
func (s *Streaming) run(ctx context.Context, command string, feed func(io.Writer) error, read func(io.Reader) error) error {
	if !s.allowed {
		return ErrExecNotAllowed
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = commandEnv(ctx)
	inGroup(cmd)
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, sigTerm) }
	cmd.WaitDelay = killGrace // then Wait kills the command itself
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	// Pipes of our own for the output, rather than exec's copying: Wait
	// returns when the command exits, and its group is killed at once,
	// even if a process of it holds them open.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutW.Close()
		return err
	}
	defer stderrR.Close()
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		return fmt.Errorf("start %q: %w", command, err)
	}
	pid := cmd.Process.Pid

	var feedErr, readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		feedErr = feed(stdin)
		stdin.Close()
	})
	var outputs sync.WaitGroup
	outputs.Go(func() {
		if readErr = read(stdout); readErr != nil {
			signalGroup(pid, sigKill) // the attempt has failed: stop the command
		}
	})
	stderr := &tail{max: 4 << 10}
	outputs.Go(func() { io.Copy(stderr, stderrR) })
	waitErr := cmd.Wait() // closes stdin, so the feeding ends
	signalGroup(pid, sigKill)
	// What the pipes hold is read to its end; only a process that left
	// the group can keep them open, and not for long.
	var abandoned atomic.Bool
	held := time.AfterFunc(drainGrace, func() {
		abandoned.Store(true)
		stdout.Close()
		stderrR.Close()
	})
	outputs.Wait()
	held.Stop()
	wg.Wait()

	switch {
	case abandoned.Load():
		return fmt.Errorf("%q: processes that left its process group hold its output open", command)
	case readErr != nil:
		return fmt.Errorf("%q: %w", command, readErr)
	case ctx.Err() != nil:
		return fmt.Errorf("%q stopped: %w", command, context.Cause(ctx))
	case waitErr != nil:
		return fmt.Errorf("%q: %w: %s", command, waitErr, strings.TrimSpace(stderr.String()))
	}
	if feedErr != nil && !errors.Is(feedErr, os.ErrClosed) && !errors.Is(feedErr, syscall.EPIPE) {
		return feedErr // a command that stops reading early and succeeds is fine
	}
	return nil
}

// commandEnv is a command's whole environment: the task's MR_ variables
// and, of the worker's own, only inherited. Nothing else of the worker's
// (NATS_URL, credentials) reaches a command.
func commandEnv(ctx context.Context) []string {
	var env []string
	for _, name := range inherited {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return append(env, taskEnv(ctx)...)
}

// eachLine calls f with each line read from r, without its newline (and
// a carriage return before it), until f's first error. A line longer than
// MaxLineSize is ErrLineTooLong.
func eachLine(r io.Reader, f func(string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineSize+2) // room for "\r\n"
	for sc.Scan() {
		if len(sc.Bytes()) > MaxLineSize {
			return ErrLineTooLong
		}
		if err := f(sc.Text()); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return ErrLineTooLong
	}
	return sc.Err()
}

// lineLimit passes what is written to w on, failing with ErrLineTooLong
// before a line grows past MaxLineSize.
type lineLimit struct {
	w    io.Writer
	line int // bytes of the current line written so far
}

func (l *lineLimit) Write(p []byte) (int, error) {
	n := l.line
	for rest := p; ; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			n += len(rest)
			break
		}
		if n+i > MaxLineSize {
			return 0, ErrLineTooLong
		}
		n, rest = 0, rest[i+1:]
	}
	if n > MaxLineSize {
		return 0, ErrLineTooLong
	}
	l.line = n
	return l.w.Write(p)
}

func taskEnv(ctx context.Context) []string {
	info, ok := mr.TaskInfoFrom(ctx)
	if !ok {
		return nil
	}
	env := []string{
		"MR_JOB_ID=" + info.Job,
		"MR_TASK_ID=" + info.Job + "/" + string(info.Phase) + "/" + strconv.Itoa(info.Index),
		"MR_ATTEMPT=" + strconv.Itoa(info.Attempt),
		"MR_WORKER_ID=" + info.Worker,
	}
	if info.Phase == mr.PhaseMap {
		return append(env, "MR_INPUT="+info.Input)
	}
	return append(env, "MR_PARTITION="+strconv.Itoa(info.Partition))
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
