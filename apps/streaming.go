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
	"syscall"

	"github.com/drover-dev/drover/mr"
)

// ErrExecNotAllowed is the error of a streaming task on a worker that was
// not allowed to run commands.
var ErrExecNotAllowed = errors.New("streaming runs commands, and this worker was not started with --allow-exec")

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
// MR_INPUT and the reducer MR_PARTITION. A non-zero exit fails the attempt
// with the end of the command's standard error.
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

// MapSplit feeds the split's lines to the mapper and emits what it prints.
func (s *Streaming) MapSplit(ctx context.Context, recs iter.Seq2[mr.Record, error], emit mr.Emit) error {
	feed := func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for rec := range recs {
			bw.WriteString(rec.Text)
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	read := func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			key, value, _ := strings.Cut(sc.Text(), "\t")
			if err := emit(key, value); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	return s.run(ctx, s.mapper, feed, read)
}

// ReducePartition feeds the partition's pairs to the reducer and copies
// what it prints to w.
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
		_, err := io.Copy(w, r)
		return err
	}
	return s.run(ctx, s.reducer, feed, read)
}

// run runs command with feed writing its standard input and read reading
// its standard output, concurrently.
func (s *Streaming) run(ctx context.Context, command string, feed func(io.Writer) error, read func(io.Reader) error) error {
	if !s.allowed {
		return ErrExecNotAllowed
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(), taskEnv(ctx)...)
	stderr := &tail{max: 4 << 10}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %q: %w", command, err)
	}
	var feedErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		feedErr = feed(stdin)
		stdin.Close()
	})
	readErr := read(stdout)
	if readErr != nil {
		io.Copy(io.Discard, stdout) // let the command finish
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%q: %w: %s", command, err, strings.TrimSpace(stderr.String()))
	}
	if readErr != nil {
		return readErr
	}
	if feedErr != nil && !errors.Is(feedErr, os.ErrClosed) && !errors.Is(feedErr, syscall.EPIPE) {
		return feedErr // a command that stops reading early and succeeds is fine
	}
	return nil
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
