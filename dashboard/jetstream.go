package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
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

// readWait bounds one pull of a job's events or commits: a pull that
// finds nothing returns after it.
const readWait = 2 * time.Second

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

// Job implements Source.
func (s *JetStream) Job(ctx context.Context, id string) (JobData, error) {
	var d JobData
	if err := s.call(ctx, mr.MethodStatus, master.JobArgs{ID: id}, &d.Status); err != nil {
		return d, err
	}
	if !subjectToken(id) { // a quarantined record: nothing of it is on the bus
		return d, nil
	}
	d.Spec = s.spec(ctx, id)
	// One read per kind, each with one filter, so that NATS permissions
	// can grant them (the filter is in the request's subject), merged
	// back into the order the stream stored them in.
	type seqRecord struct {
		seq uint64
		Record
	}
	var all []seqRecord
	n := 0
	for _, kind := range []mr.EventKind{mr.EventStarted, mr.EventFailed, mr.EventPublished} {
		got, err := s.read(ctx, mr.StreamEvents, mr.EventSubject(id, kind), jetstream.DeliverAllPolicy, s.maxEvents-n, func(m jetstream.Msg, meta *jetstream.MsgMetadata) {
			var ev mr.Event
			if json.Unmarshal(m.Data(), &ev) == nil && ev.Job == id && ev.Kind == kind {
				all = append(all, seqRecord{meta.Sequence.Stream, Record{Event: ev, At: meta.Timestamp}})
			}
		})
		if err != nil {
			return d, err
		}
		n += got
	}
	slices.SortFunc(all, func(a, b seqRecord) int { return cmp.Compare(a.seq, b.seq) })
	d.Records = make([]Record, len(all))
	for i, r := range all {
		d.Records[i] = r.Record
	}
	d.Truncated = n >= s.maxEvents
	_, err := s.read(ctx, mr.BucketStream(mr.BucketCommits), mr.BucketKey(mr.BucketCommits, mr.JobCommitKeys(id)),
		jetstream.DeliverLastPerSubjectPolicy, mr.MaxMapTasks+mr.MaxR, func(m jetstream.Msg, _ *jetstream.MsgMetadata) {
			var c mr.Commit
			if m.Headers().Get("KV-Operation") == "" && json.Unmarshal(m.Data(), &c) == nil && c.Job == id {
				d.Commits = append(d.Commits, c)
			}
		})
	return d, err
}

// spec is job id's spec as the jobs bucket holds it, or nil.
func (s *JetStream) spec(ctx context.Context, id string) *mr.JobSpec {
	kv, err := s.js.KeyValue(ctx, mr.BucketJobs)
	if err != nil {
		return nil
	}
	e, err := kv.Get(ctx, id)
	if err != nil {
		return nil
	}
	var rec struct {
		Spec mr.JobSpec `json:"spec"`
	}
	if json.Unmarshal(e.Value(), &rec) != nil || rec.Spec.ValidateForm() != nil {
		return nil
	}
	return &rec.Spec
}

// read hands fn every message of stream on filter, up to limit of them, in
// order, with its metadata, and returns how many it handed.
func (s *JetStream) read(ctx context.Context, stream, filter string, deliver jetstream.DeliverPolicy, limit int, fn func(jetstream.Msg, *jetstream.MsgMetadata)) (int, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("dashboard: %s: %w", stream, err)
	}
	// Ask first whether there is anything: a pull that finds nothing
	// waits readWait.
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("dashboard: %s: %w", stream, err)
	}
	// As many as there are, so that each pull returns as soon as its
	// messages are in, rather than wait out readWait for more.
	want := uint64(0)
	for _, count := range info.State.Subjects {
		if deliver == jetstream.DeliverLastPerSubjectPolicy {
			count = 1
		}
		want += count
	}
	want = min(want, uint64(max(limit, 0)))
	if want == 0 {
		return 0, nil
	}
	cons, err := s.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: deliver})
	if err != nil {
		return 0, fmt.Errorf("dashboard: %s: %w", stream, err)
	}
	n := 0
	for uint64(n) < want {
		batch, err := cons.Fetch(int(min(want-uint64(n), 1000)), jetstream.FetchMaxWait(readWait))
		if err != nil {
			return n, fmt.Errorf("dashboard: %s: %w", stream, err)
		}
		got, pending := 0, uint64(1)
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			got++
			n++
			pending = meta.NumPending
			fn(m, meta)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return n, fmt.Errorf("dashboard: %s: %w", stream, err)
		}
		if got == 0 || pending == 0 {
			break
		}
	}
	return n, nil
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
