package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// DefaultMaxEvents bounds the events the dashboard reads of one job.
const DefaultMaxEvents = 200_000

// JetStreamConfig configures NewJetStream.
type JetStreamConfig struct {
	// Conn is the connection to the deployment (required). It is the
	// caller's: NewJetStream neither drains nor closes it.
	Conn *nats.Conn
	// Client calls the master (default: a client made on Conn, closed by
	// Close).
	Client *rpcq.Client
	// MaxEvents bounds the events read of one job (default
	// DefaultMaxEvents).
	MaxEvents int
	// Logger hears what could not be decoded (default slog.Default).
	Logger *slog.Logger
}

// JetStream is the Source of a running deployment: jobs, their status and
// cancel from the master's control API (Master.ListPage, Status and
// Cancel: whichever master leads answers), specs from the jobs bucket,
// runs from the event stream and the commits bucket, streams from their
// infos. It keeps no state between requests, so any number of
// dashboards and masters may run. It is safe for concurrent use.
type JetStream struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	client    *rpcq.Client
	ownClient bool
	maxEvents int
	log       *slog.Logger
}

// NewJetStream makes the Source of the deployment on cfg.Conn.
func NewJetStream(cfg JetStreamConfig) (*JetStream, error) {
	switch {
	case cfg.Conn == nil:
		return nil, fmt.Errorf("%w: Conn is nil", ErrInvalidConfig)
	case cfg.MaxEvents < 0:
		return nil, fmt.Errorf("%w: MaxEvents %d is negative", ErrInvalidConfig, cfg.MaxEvents)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	s := &JetStream{nc: cfg.Conn, js: js, client: cfg.Client, maxEvents: cmp.Or(cfg.MaxEvents, DefaultMaxEvents),
		log: cmp.Or(cfg.Logger, slog.Default())}
	if s.client == nil {
		if s.client, err = rpcq.NewClient(cfg.Conn, rpcq.ClientConfig{}); err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		s.ownClient = true
	}
	return s, nil
}

// Close closes the client NewJetStream made, if it made one.
func (s *JetStream) Close() {
	if s.ownClient {
		s.client.Close()
	}
}

// masterWait bounds a call to the master. The master answers from
// memory in milliseconds; rpcq asks again after "no responders" until its
// context ends, and a page must say soon that no master runs.
const masterWait = 3 * time.Second

// call calls a method of the master; its "no job" answers wrap ErrNoJob.
func (s *JetStream) call(ctx context.Context, method string, args, reply any) error {
	ctx, cancel := context.WithTimeout(ctx, masterWait)
	defer cancel()
	err := s.client.Call(ctx, mr.MasterService+"."+method, args, reply)
	var remote *rpcq.RemoteError
	if errors.As(err, &remote) && remote.Code == rpcq.CodeUnknownMethod {
		return fmt.Errorf("%w: %s", ErrNoJob, remote.Message)
	}
	if errors.Is(err, rpcq.ErrNoResponders) || errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("no master is running (%w)", err)
	}
	return err
}

// Jobs implements Source.
func (s *JetStream) Jobs(ctx context.Context, after string, limit int) (master.ListPage, error) {
	var page master.ListPage
	err := s.call(ctx, mr.MethodListPage, master.ListArgs{Limit: limit, After: after}, &page)
	return page, err
}

// Cancel implements Source.
func (s *JetStream) Cancel(ctx context.Context, id string) error {
	return s.call(ctx, mr.MethodCancel, master.JobArgs{ID: id}, nil)
}

// Job implements Source. The job's runs are read through the master
// (Master.Runs), a page a call, as whoever the dashboard calls as may see
// them.
func (s *JetStream) Job(ctx context.Context, id string) (JobData, error) {
	var d JobData
	if err := s.call(ctx, mr.MethodStatus, master.JobArgs{ID: id}, &d.Status); err != nil {
		return d, err
	}
	if !subjectToken(id) { // a quarantined record: nothing of it is on the bus
		return d, nil
	}
	args := master.RunsArgs{ID: id}
	for {
		var page master.RunsPage
		if err := s.call(ctx, mr.MethodRuns, args, &page); err != nil {
			return d, err
		}
		if page.Spec != nil && page.Spec.ValidateForm() == nil {
			d.Spec = page.Spec
		}
		for _, ev := range page.Events {
			if len(d.Records) == s.maxEvents {
				d.Truncated = true
				break
			}
			d.Records = append(d.Records, Record{Event: ev.Event, At: time.Unix(0, ev.At)})
		}
		d.Commits = append(d.Commits, page.Commits...)
		// A page that moves no cursor would be asked for again forever.
		moved := page.Next > args.After || page.NextCommit > args.NextCommit
		if page.Done || d.Truncated || !moved || len(d.Commits) > mr.MaxMapTasks+mr.MaxR {
			return d, nil
		}
		args.After, args.NextCommit = page.Next, page.NextCommit
	}
}

// subjectToken reports whether id can be one token of a subject.
func subjectToken(id string) bool {
	return id != "" && len(id) <= mr.MaxJobIDLen && !strings.ContainsAny(id, ".*> \t\r\n")
}

// Cluster implements Source.
func (s *JetStream) Cluster(ctx context.Context) (Cluster, error) {
	c := Cluster{Connected: s.nc.ConnectedServerName()}
	nodes := map[string]bool{}
	if c.Connected != "" {
		nodes[c.Connected] = true
	}
	for _, name := range mr.BackingStreams() {
		row := Stream{Name: name, Kind: streamKind(name)}
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			row.Error = err.Error()
			c.Streams = append(c.Streams, row)
			continue
		}
		info := st.CachedInfo()
		row.Replicas, row.Messages, row.Bytes = info.Config.Replicas, info.State.Msgs, info.State.Bytes
		if cl := info.Cluster; cl != nil {
			row.Leader = cl.Leader
			if cl.Leader != "" {
				nodes[cl.Leader] = true
			}
			for _, p := range cl.Replicas {
				if p == nil {
					continue
				}
				nodes[p.Name] = true
				row.Peers = append(row.Peers, Peer{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag, Active: p.Active.Round(time.Millisecond)})
			}
		}
		c.Streams = append(c.Streams, row)
	}
	for n := range nodes {
		c.Nodes = append(c.Nodes, n)
	}
	slices.Sort(c.Nodes)
	return c, nil
}

// streamKind says what a backing stream is behind.
func streamKind(name string) string {
	switch {
	case strings.HasPrefix(name, "KV_"):
		return "bucket"
	case strings.HasPrefix(name, "OBJ_"):
		return "object store"
	}
	return "stream"
}

// Workers implements Source: mr.ListWorkers of the worker registry.
func (s *JetStream) Workers(ctx context.Context) ([]mr.WorkerInfo, int, error) {
	kv, err := s.js.KeyValue(ctx, mr.BucketWorkers)
	if err != nil {
		return nil, 0, fmt.Errorf("dashboard: worker registry %s: %w (a master of this version makes it)", mr.BucketWorkers, err)
	}
	return mr.ListWorkers(ctx, kv)
}
