package integration

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/dashboard"
	kvservice "github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/internal/testutil"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
)

// secured is a deployment as the README's Security section runs it: a
// broker with the configuration `drover auth init` wrote, serving TLS
// to clients with a certificate of the test's CA only, and a master and a
// worker (allowed to run commands) each with its role's seed. Every
// client below connects the same way, as one of the roles.
type secured struct {
	t      *testing.T
	auth   string // the directory drover auth init wrote
	certs  *brokertest.Certs
	addr   string
	broker *process
	master *process
	worker *process
	input  string       // a small input file
	admin  *rpcq.Client // made by status
}

// newSecured starts a secured deployment; users are more users for
// drover auth init, as --user NAME=ROLE takes them.
func newSecured(t *testing.T, users ...string) *secured {
	t.Helper()
	s := &secured{t: t, auth: filepath.Join(t.TempDir(), "auth"), certs: brokertest.NewCerts(t)}
	args := []string{"auth", "init", "--dir", s.auth}
	for _, u := range users {
		args = append(args, "--user", u)
	}
	if code, out, errOut := exitOf(t, "drover", args...); code != 0 {
		t.Fatalf("drover auth init: exit %d: %s%s", code, out, errOut)
	}
	s.addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	s.broker = start(t, "broker", "--config", filepath.Join(s.auth, auth.BrokerFile), "--listen", s.addr, "--store", t.TempDir(),
		"--tls-cert", s.certs.ServerCert, "--tls-key", s.certs.ServerKey, "--tls-ca", s.certs.CA)
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(s.broker.String(), "broker ready") }, "the broker (output: %s)", s.broker)
	s.master = start(t, "master", append(s.flags(auth.Master), "--lease", lease, "--leader-ttl", "1s", "--log-level", "warn", "--schedules")...)
	s.worker = start(t, "worker", append(s.flags(auth.Worker), "--allow-exec", "--slots", "1")...)
	if code, out, errOut := exitOf(t, "drover", append([]string{"ready", "--service", "Master", "--service", "Time", "--timeout", "30s"}, s.flags(auth.Reader)...)...); code != 0 {
		t.Fatalf("drover ready: exit %d: %s%s\nmaster: %s", code, out, errOut, s.master)
	}
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(s.worker.String(), "worker ready") }, "the worker (output: %s)", s.worker)
	s.input = filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(s.input, []byte("the quick fox\nthe lazy dog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.checkDaemons)
	return s
}

func (s *secured) url() string { return "tls://" + s.addr }

func (s *secured) seed(role auth.Role) string { return s.seedOf(string(role)) }

// seedOf is the seed file of the user named name.
func (s *secured) seedOf(name string) string { return filepath.Join(s.auth, auth.UserSeedFile(name)) }

// inboxes are every inbox of role's user, as a subject filter.
func (s *secured) inboxes(role auth.Role) string {
	s.t.Helper()
	seed, err := os.ReadFile(s.seed(role))
	if err != nil {
		s.t.Fatal(err)
	}
	kp, err := nkeys.ParseDecoratedNKey(seed)
	if err != nil {
		s.t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return auth.InboxPrefix(pub) + ".>"
}

// flags are the connection flags of a process of role.
func (s *secured) flags(role auth.Role) []string { return s.flagsOf(string(role)) }

// flagsOf are the connection flags of the user named name.
func (s *secured) flagsOf(name string) []string {
	return []string{"--nats", s.url(), "--nkey", s.seedOf(name), "--tls-ca", s.certs.CA, "--tls-cert", s.certs.ClientCert, "--tls-key", s.certs.ClientKey}
}

// checkDaemons fails the test if the master or the worker was refused
// anything: the permissions of their roles must be all they need. Every
// violation the broker logs must come from the test's own attempts.
func (s *secured) checkDaemons() {
	for _, p := range []*process{s.master, s.worker} {
		if strings.Contains(p.String(), "Permissions Violation") {
			s.t.Errorf("%s was refused something:\n%s", p.cmd.Path, p)
		}
	}
	for line := range strings.Lines(s.broker.String()) {
		if strings.Contains(line, "Violation") && (strings.Contains(line, "drover master") || strings.Contains(line, "drover worker")) {
			s.t.Errorf("the broker refused a daemon: %s", line)
		}
	}
}

// connect connects as role; violations receives the permission
// violations the server reports on the connection.
func (s *secured) connect(role auth.Role) (nc *nats.Conn, violations <-chan error) {
	s.t.Helper()
	ch := make(chan error, 64)
	opt, err := nats.NkeyOptionFromSeed(s.seed(role))
	if err != nil {
		s.t.Fatal(err)
	}
	// The user's own inboxes, as the binaries' --nkey takes them.
	inbox := func(o *nats.Options) error { return nats.CustomInboxPrefix(auth.InboxPrefix(o.Nkey))(o) }
	opts := append(s.certs.ClientOptions(), opt, inbox, nats.NoReconnect(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			select {
			case ch <- err:
			default:
			}
		}
	}))
	nc, err = nats.Connect(s.url(), opts...)
	if err != nil {
		s.t.Fatalf("connect as %s: %v", role, err)
	}
	s.t.Cleanup(nc.Close)
	return nc, ch
}

// outcome is what an attempt came to: done, or refused by a permission
// (the server's words), or failed otherwise.
type outcome struct {
	refused string
	err     error
	stdout  string
}

func (o outcome) String() string {
	switch {
	case o.refused != "":
		return "refused: " + o.refused
	case o.err != nil:
		return "failed: " + o.err.Error()
	}
	return "done"
}

// tryGo runs op as role and says whether NATS let it: an op refused by a
// permission may never return by itself (a JetStream request is answered
// by no one), so the first violation ends it.
func (s *secured) tryGo(role auth.Role, op func(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error) outcome {
	s.t.Helper()
	nc, violations := s.connect(role)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx, nc, js) }()
	var err error
	select {
	case v := <-violations:
		cancel()
		<-done
		return outcome{refused: v.Error()}
	case err = <-done:
	}
	if err == nil {
		// A publish's violation comes after the publish: flush, and see.
		if err = nc.Flush(); err == nil {
			err = nc.LastError()
		}
	}
	if errors.Is(err, nats.ErrPermissionViolation) {
		return outcome{refused: err.Error()}
	}
	return outcome{err: err}
}

// publishes is an op that publishes data on subject with core NATS.
func publishes(subject string, data []byte) func(context.Context, *nats.Conn, jetstream.JetStream) error {
	return func(_ context.Context, nc *nats.Conn, _ jetstream.JetStream) error {
		return nc.Publish(subject, data)
	}
}

// subscribes is an op that subscribes to subject, as a server of it.
func subscribes(subject, queue string) func(context.Context, *nats.Conn, jetstream.JetStream) error {
	return func(_ context.Context, nc *nats.Conn, _ jetstream.JetStream) error {
		sub, err := nc.QueueSubscribeSync(subject, queue)
		if err != nil {
			return err
		}
		if err := nc.Flush(); err != nil {
			return err
		}
		err = nc.LastError()
		sub.Unsubscribe()
		return err
	}
}

// tryDrover runs drover with args as role and says whether NATS let it.
// drover does not end on a refusal it is not told of (a request nobody
// may answer): its first violation, which nats.go prints, ends it.
func (s *secured) tryDrover(role auth.Role, args ...string) outcome {
	s.t.Helper()
	return s.tryDroverAs(string(role), args...)
}

// tryDroverAs is tryDrover as the user named user.
func (s *secured) tryDroverAs(user string, args ...string) outcome {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(bin, "drover"), append(args, s.flagsOf(user)...)...)
	var stdout, stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	ended := false
	brokertest.WaitFor(s.t, 2*time.Minute, func() bool {
		select {
		case err = <-exited:
			ended = true
			return true
		default:
		}
		return strings.Contains(stderr.String(), "Permissions Violation")
	}, "drover %q as %s to end or be refused (output: %s)", args, user, &stderr)
	if !ended {
		cmd.Process.Kill()
		<-exited
	}
	if line := violationLine(stderr.String()); line != "" {
		return outcome{refused: line}
	}
	if err != nil {
		return outcome{err: fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))}
	}
	return outcome{stdout: stdout.String()}
}

func violationLine(out string) string {
	for line := range strings.Lines(out) {
		if strings.Contains(line, "Permissions Violation") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// status asks the master for the job's status, as admin.
func (s *secured) status(id string) master.JobStatus {
	s.t.Helper()
	if s.admin == nil {
		nc, _ := s.connect(auth.Admin)
		client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
		if err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(func() { client.Close() })
		s.admin = client
	}
	var st master.JobStatus
	if err := s.admin.Call(timeout(s.t, 30*time.Second), "Master.Status", master.JobArgs{ID: id}, &st); err != nil {
		s.t.Fatalf("Master.Status(%s): %v", id, err)
	}
	return st
}

// waitDone waits for the job to end, and fails the test unless it is done.
func (s *secured) waitDone(id string) {
	s.t.Helper()
	var st master.JobStatus
	brokertest.WaitFor(s.t, 3*time.Minute, func() bool {
		st = s.status(id)
		return st.State.Ended()
	}, "job %s to end", id)
	if st.State != master.JobDone {
		s.t.Fatalf("job %s ended %s: %s", id, st.State, st.Error)
	}
}

// hostileTask is a map task of the streaming app, as the master would
// publish it, whose mapper creates marker: what a client that may publish
// on the task subjects could make a worker run.
func hostileTask(t *testing.T, job, marker string, input mr.Input) []byte {
	t.Helper()
	task := mr.Task{Job: job, Phase: mr.PhaseMap, Attempt: 1, App: "streaming", Args: []string{"touch '" + marker + "'; cat", "cat"},
		R: 1, Timeout: time.Minute, Input: &input, Split: mr.Split{End: input.Size}}
	if err := task.Validate(); err != nil {
		t.Fatalf("the hostile task is not one a worker takes: %v", err)
	}
	data, _ := json.Marshal(task)
	return data
}

// TestRolesAndPermissions: each role can do its job, and only that,
// over TLS with client certificates, with the real binaries and the
// configuration drover auth init wrote. The table is roles × operations;
// an operation is either done or refused by NATS, never failed otherwise.
func TestRolesAndPermissions(t *testing.T) {
	s := newSecured(t)
	marks := t.TempDir()
	// A finished job, for status, get and cancel.
	done := s.tryDrover(auth.Admin, "submit", "--app", "wordcount", "--wait", s.input)
	if done.refused != "" || done.err != nil {
		t.Fatalf("admin's drover submit --wait: %v", done)
	}
	job := strings.TrimSpace(done.stdout)
	// A submitter sees its own jobs alone: it is shown one of its own.
	jobOf := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.Submitter, auth.ExecSubmitter} {
		own := s.tryDrover(role, "submit", "--app", "wordcount", "--wait", s.input)
		if own.refused != "" || own.err != nil {
			t.Fatalf("%s's drover submit --wait: %v", role, own)
		}
		jobOf[role] = strings.TrimSpace(own.stdout)
	}
	shown := func(role auth.Role) string { return cmp.Or(jobOf[role], job) }
	var uploaded mr.Input // the input of job, as a hostile task would name it
	if inputs, err := mr.Upload(timeout(t, time.Minute), s.bind(auth.Admin), s.input, mr.DefaultSplitSize); err != nil {
		t.Fatal(err)
	} else {
		uploaded = inputs[0]
	}

	everyone := auth.Roles()
	clients := []auth.Role{auth.Submitter, auth.ExecSubmitter, auth.Reader, auth.Admin}
	submitters := []auth.Role{auth.Submitter, auth.ExecSubmitter, auth.Admin}
	execs := []auth.Role{auth.ExecSubmitter, auth.Admin}
	publishers := []auth.Role{auth.Master, auth.Admin}
	writers := []auth.Role{auth.Master, auth.Worker, auth.Admin}
	putObject := func(role auth.Role, bucket, name string) outcome {
		return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
			obs, err := js.ObjectStore(ctx, bucket)
			if err != nil {
				return err
			}
			_, err = obs.PutBytes(ctx, name, []byte("x"))
			return err
		})
	}
	var submitted []string // jobs the table submitted, to wait for

	tests := []struct {
		name string
		may  []auth.Role
		try  func(role auth.Role) outcome
	}{
		{"drover submit wordcount", submitters, func(role auth.Role) outcome {
			o := s.tryDrover(role, "submit", "--app", "wordcount", s.input)
			if o.refused == "" && o.err == nil {
				submitted = append(submitted, strings.TrimSpace(o.stdout))
			}
			return o
		}},
		{"drover submit streaming", execs, func(role auth.Role) outcome {
			o := s.tryDrover(role, "submit", "--app", "streaming", "--arg", "touch '"+filepath.Join(marks, string(role))+"'; sed 's/$/\t1/'", "--arg", "cat", "-r", "1", s.input)
			if o.refused == "" && o.err == nil {
				submitted = append(submitted, strings.TrimSpace(o.stdout))
			}
			return o
		}},
		{"drover status", clients, func(role auth.Role) outcome { return s.tryDrover(role, "status", shown(role)) }},
		{"drover jobs", clients, func(role auth.Role) outcome { return s.tryDrover(role, "jobs") }},
		{"drover get", clients, func(role auth.Role) outcome {
			return s.tryDrover(role, "get", shown(role), "-o", filepath.Join(t.TempDir(), "out"))
		}},
		// Outputs are read through the master: no permission on the object
		// store can tell one user's objects from another's.
		{"read an output object", []auth.Role{auth.Master, auth.Worker, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
				obs, err := js.ObjectStore(ctx, mr.ObjectStoreData)
				if err != nil {
					return err
				}
				_, err = obs.GetBytes(ctx, s.status(job).Outputs[0])
				return err
			})
		}},
		{"drover cancel", submitters, func(role auth.Role) outcome {
			// A job that runs until cancelled holds the worker's one
			// slot; a submitter tries its own job, queued behind it.
			started := filepath.Join(marks, "started-"+string(role))
			held := s.tryDrover(auth.Admin, "submit", "--app", "streaming", "--arg", held("touch '"+started+"'", filepath.Join(marks, "never"), "sed 's/$/\t1/'"), "--arg", "cat", "-r", "1", s.input)
			if held.refused != "" || held.err != nil {
				t.Fatalf("admin's drover submit of a held job: %v", held)
			}
			id := strings.TrimSpace(held.stdout)
			if role.OwnJobsOnly() {
				brokertest.WaitFor(t, time.Minute, func() bool { _, err := os.Stat(started); return err == nil }, "the held job to start")
				own := s.tryDrover(role, "submit", "--app", "wordcount", s.input)
				if own.refused != "" || own.err != nil {
					t.Fatalf("%s's drover submit: %v", role, own)
				}
				id = strings.TrimSpace(own.stdout)
			}
			o := s.tryDrover(role, "cancel", id)
			if o.refused == "" && o.err == nil && !strings.Contains(o.stdout, "cancelled") {
				o.err = fmt.Errorf("drover cancel said %q", o.stdout)
			}
			if o.refused != "" || id != strings.TrimSpace(held.stdout) {
				if c := s.tryDrover(auth.Admin, "cancel", strings.TrimSpace(held.stdout)); c.refused != "" || c.err != nil {
					t.Fatalf("admin's drover cancel: %v", c)
				}
			}
			return o
		}},
		{"a job's page in drover ui", clients, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, nc *nats.Conn, _ jetstream.JetStream) error {
				cfg := dashboard.JetStreamConfig{Conn: nc}
				if role.OwnJobsOnly() { // as drover ui calls the master for it
					client, err := rpcq.NewClient(nc, rpcq.ClientConfig{Caller: string(role)})
					if err != nil {
						return err
					}
					defer client.Close()
					cfg.Client = client
				}
				src, err := dashboard.NewJetStream(cfg)
				if err != nil {
					return err
				}
				defer src.Close()
				d, err := src.Job(ctx, shown(role))
				if err == nil && (d.Spec == nil || len(d.Records) == 0 || len(d.Commits) == 0) {
					err = fmt.Errorf("job page of %s: spec %v, %d events, %d commits: want all", shown(role), d.Spec != nil, len(d.Records), len(d.Commits))
				}
				return err
			})
		}},
		{"drover workers", []auth.Role{auth.Master, auth.Submitter, auth.ExecSubmitter, auth.Reader, auth.Admin}, func(role auth.Role) outcome {
			o := s.tryDrover(role, "workers")
			if o.refused == "" && o.err == nil && !strings.Contains(o.stdout, "WORKER") {
				o.err = fmt.Errorf("drover workers said %q", o.stdout)
			}
			return o
		}},
		{"write a worker registry entry", []auth.Role{auth.Worker, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
				kv, err := js.KeyValue(ctx, mr.BucketWorkers)
				if err != nil {
					return err
				}
				_, err = kv.Put(ctx, "authtest-"+string(role), []byte("{}"))
				return err
			})
		}},
		{"drover time", []auth.Role{auth.Worker, auth.Admin}, func(role auth.Role) outcome {
			return s.tryDrover(role, "time", "--samples", "2")
		}},
		{"publish a task with core NATS", publishers, func(role auth.Role) outcome {
			return s.tryGo(role, publishes(mr.TaskSubject("authtest-"+string(role), mr.PhaseMap, 0), []byte("not a task")))
		}},
		{"publish a streaming task with core NATS", publishers, func(role auth.Role) outcome {
			job := "authtest-raw-" + string(role)
			marker := filepath.Join(marks, "raw-"+string(role))
			return s.tryGo(role, publishes(mr.TaskSubject(job, mr.PhaseMap, 0), hostileTask(t, job, marker, uploaded)))
		}},
		{"publish a task to JetStream", publishers, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
				_, err := js.Publish(ctx, mr.TaskSubject("authtest-js-"+string(role), mr.PhaseMap, 0), []byte("not a task"))
				return err
			})
		}},
		{"write a commit record", []auth.Role{auth.Master, auth.Worker, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
				kv, err := js.KeyValue(ctx, mr.BucketCommits)
				if err != nil {
					return err
				}
				_, err = kv.Create(ctx, mr.CommitKey("authtest-"+string(role), mr.PhaseMap, 0), []byte("{}"))
				return err
			})
		}},
		{"write a map output", writers, func(role auth.Role) outcome {
			return putObject(role, mr.ObjectStoreData, mr.MapOutputObject("authtest-"+string(role), 0, "1-0", 0))
		}},
		{"upload an input", submitters, func(role auth.Role) outcome {
			return putObject(role, mr.ObjectStoreInputs, mr.InputObject("authtest-"+string(role)))
		}},
		{"take a task from the workers' consumer", []auth.Role{auth.Master, auth.Worker, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
				cons, err := js.Consumer(ctx, mr.StreamTasks, mr.ConsumerWorkers)
				if err != nil {
					return err
				}
				batch, err := cons.FetchNoWait(1)
				if err != nil {
					return err
				}
				for msg := range batch.Messages() {
					msg.Nak() // not ours to run
				}
				if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
					return err
				}
				return nil
			})
		}},
		{"serve rpcq.Time.Now", publishers, func(role auth.Role) outcome { return s.tryGo(role, subscribes(timesvc.Subject, "")) }},
		{"serve rpcq.Master.Submit", publishers, func(role auth.Role) outcome {
			return s.tryGo(role, subscribes(mr.MasterSubject(mr.MethodSubmit), ""))
		}},
		{"answer $SRV.INFO.Time", publishers, func(role auth.Role) outcome { return s.tryGo(role, subscribes("$SRV.INFO.Time", "")) }},
		{"read every reply (subscribe to _INBOX.>)", []auth.Role{auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, subscribes("_INBOX.>", ""))
		}},
		{"read the master's replies (subscribe to its inboxes)", []auth.Role{auth.Master, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, subscribes(s.inboxes(auth.Master), ""))
		}},
		{"read a submitter's replies (subscribe to its inboxes)", []auth.Role{auth.Submitter, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, subscribes(s.inboxes(auth.Submitter), ""))
		}},
		{"serve rpcq.KV.Get", []auth.Role{auth.KVServer, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, subscribes(rpcq.Subject(kvservice.ServiceName, "Get"), ""))
		}},
		{"call rpcq.KV.Put", []auth.Role{auth.Submitter, auth.ExecSubmitter, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, publishes(rpcq.Subject(kvservice.ServiceName, "Put"), []byte(`{"key":"k","value":"v"}`)))
		}},
		{"call rpcq.KV.Get", []auth.Role{auth.Submitter, auth.ExecSubmitter, auth.Reader, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, publishes(rpcq.Subject(kvservice.ServiceName, "Get"), []byte(`"k"`)))
		}},
		{"forge a reply on an inbox", []auth.Role{auth.KVServer, auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, publishes(nats.NewInbox()+".forged", []byte(`{"t2":0,"t3":0}`)))
		}},
		{"create a stream", []auth.Role{auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
				name := "AUTHTEST_" + strings.ReplaceAll(string(role), "-", "_")
				_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"authtest." + string(role) + ".>"}})
				return err
			})
		}},
		{"delete the task stream", []auth.Role{auth.Admin}, func(role auth.Role) outcome {
			return s.tryGo(role, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
				return js.DeleteStream(ctx, mr.StreamTasks)
			})
		}},
	}
	// What a role may but the test cannot let it do.
	untried := map[string]auth.Role{"delete the task stream": auth.Admin}
	for _, tt := range tests {
		for _, role := range everyone {
			if untried[tt.name] == role {
				continue
			}
			got := tt.try(role)
			t.Logf("%-40s %-15s %v", tt.name, role, got)
			want := slices.Contains(tt.may, role)
			switch {
			case got.err != nil:
				t.Errorf("%s as %s: %v; want it %s", tt.name, role, got, doneOrRefused(want))
			case want && got.refused != "":
				t.Errorf("%s as %s: %v; want it done", tt.name, role, got)
			case !want && got.refused == "":
				t.Errorf("%s as %s: done; want it refused", tt.name, role)
			}
		}
	}

	for _, id := range submitted {
		s.waitDone(id)
	}
	// The worker ran the commands of the jobs the exec roles submitted
	// and of the raw tasks the publishers published, and those alone:
	// what the others tried never reached it.
	for _, role := range publishers {
		marker := filepath.Join(marks, "raw-"+string(role))
		brokertest.WaitFor(t, time.Minute, func() bool { _, err := os.Stat(marker); return err == nil }, "the raw task %s published to run", role)
	}
	for _, role := range everyone {
		_, err := os.Stat(filepath.Join(marks, string(role)))
		if ran := err == nil; ran != slices.Contains(execs, role) {
			t.Errorf("a streaming job submitted as %s ran its command: %v, want %v", role, ran, !ran)
		}
		_, err = os.Stat(filepath.Join(marks, "raw-"+string(role)))
		if ran := err == nil; ran != slices.Contains(publishers, role) {
			t.Errorf("a raw task published as %s ran its command: %v, want %v", role, ran, !ran)
		}
	}
}

func doneOrRefused(done bool) string {
	if done {
		return "done"
	}
	return "refused"
}

// bind opens the deployment's store as role.
func (s *secured) bind(role auth.Role) *mr.Store {
	s.t.Helper()
	nc, _ := s.connect(role)
	store, err := mr.Bind(timeout(s.t, 30*time.Second), nc)
	if err != nil {
		s.t.Fatalf("mr.Bind as %s: %v", role, err)
	}
	return store
}

// TestExecSubmitterRunsStreaming: a streaming job the exec-submitter
// submits runs on the worker started with --allow-exec, and its output,
// read by a reader, is the sequential run's.
func TestExecSubmitterRunsStreaming(t *testing.T) {
	s := newSecured(t)
	files, inputs := books(t)
	o := s.tryDrover(auth.ExecSubmitter, append([]string{"submit", "--app", "streaming", "--arg", shellMapper, "--arg", shellReducer, "-r", "3", "--split-size", "131072"}, files...)...)
	if o.refused != "" || o.err != nil {
		t.Fatalf("drover submit streaming as exec-submitter: %v", o)
	}
	id := strings.TrimSpace(o.stdout)
	s.waitDone(id)
	dir := filepath.Join(t.TempDir(), "out")
	if o := s.tryDrover(auth.Reader, "get", id, "-o", dir); o.refused != "" || o.err != nil {
		t.Fatalf("drover get as reader: %v", o)
	}
	want := sequentialStreaming(t, shellMapper, shellReducer, inputs, 3)
	for p := range want {
		got, err := os.ReadFile(filepath.Join(dir, mr.OutputFile(p)))
		if err != nil || !bytes.Equal(got, want[p]) {
			t.Errorf("%s: %d bytes (%v), want %d identical to the sequential run", mr.OutputFile(p), len(got), err, len(want[p]))
		}
	}
}

// TestHostileSubmitterRunsNoCommand: a submitter without the exec role
// tries every way it has to run a command on a worker started with
// --allow-exec: drover submit, Master.Submit called directly, a task
// published raw or to JetStream, a forged commit. Each is refused, and
// once a later job from the exec role has run on the same worker (which
// takes tasks in the order they were queued), no command of the hostile
// submitter has run.
func TestHostileSubmitterRunsNoCommand(t *testing.T) {
	s := newSecured(t)
	marks := t.TempDir()
	hostile := filepath.Join(marks, "hostile")
	mapper := "touch '" + hostile + "'; sed 's/$/\t1/'"

	if o := s.tryDrover(auth.Submitter, "submit", "--app", "streaming", "--arg", mapper, "--arg", "cat", s.input); o.refused == "" {
		t.Errorf("drover submit streaming as submitter: %v; want it refused", o)
	}

	store := s.bind(auth.Submitter)
	inputs, err := mr.Upload(timeout(t, time.Minute), store, s.input, mr.DefaultSplitSize)
	if err != nil {
		t.Fatalf("upload as submitter: %v", err)
	}
	nc, _ := s.connect(auth.Submitter)
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{Caller: string(auth.Submitter)}) // as its permissions let it
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	spec := mr.JobSpec{App: "streaming", Args: []string{mapper, "cat"}, R: 1, SplitSize: mr.DefaultSplitSize, Inputs: inputs}
	var reply master.SubmitReply
	err = client.Call(timeout(t, 30*time.Second), mr.MasterService+"."+mr.MethodSubmit, master.SubmitArgs{Spec: spec}, &reply, rpcq.WithMode(rpcq.AtMostOnce))
	if !errors.Is(err, master.ErrForbidden) {
		t.Errorf("Master.Submit of a streaming job as submitter = %q, %v; want CodeForbidden", reply.ID, err)
	}

	task := hostileTask(t, "hostile", hostile, inputs[0])
	if o := s.tryGo(auth.Submitter, publishes(mr.TaskSubject("hostile", mr.PhaseMap, 0), task)); o.refused == "" {
		t.Errorf("raw publish of a task as submitter: %v; want it refused", o)
	}
	if o := s.tryGo(auth.Submitter, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
		_, err := js.Publish(ctx, mr.TaskSubject("hostile", mr.PhaseMap, 1), task, jetstream.WithMsgID("hostile/map/1/1"))
		return err
	}); o.refused == "" {
		t.Errorf("JetStream publish of a task as submitter: %v; want it refused", o)
	}
	if o := s.tryGo(auth.Submitter, func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error {
		kv, err := js.KeyValue(ctx, mr.BucketCommits)
		if err != nil {
			return err
		}
		_, err = kv.Put(ctx, mr.CommitKey("hostile", mr.PhaseMap, 0), []byte(`{"job":"hostile"}`))
		return err
	}); o.refused == "" {
		t.Errorf("KV put to %s as submitter: %v; want it refused", mr.BucketCommits, o)
	}
	if o := s.tryGo(auth.Submitter, subscribes(timesvc.Subject, "q")); o.refused == "" {
		t.Errorf("serving %s as submitter: %v; want it refused", timesvc.Subject, o)
	}

	legit := filepath.Join(marks, "legit")
	o := s.tryDrover(auth.ExecSubmitter, "submit", "--app", "streaming", "--arg", "touch '"+legit+"'; sed 's/$/\t1/'", "--arg", "cat", "-r", "1", s.input)
	if o.refused != "" || o.err != nil {
		t.Fatalf("drover submit streaming as exec-submitter: %v", o)
	}
	s.waitDone(strings.TrimSpace(o.stdout))
	if _, err := os.Stat(legit); err != nil {
		t.Fatalf("the exec-submitter's command did not run: %v", err)
	}
	if _, err := os.Stat(hostile); err == nil {
		t.Error("a command of the hostile submitter ran on the worker")
	}
}

// TestTLSClientFlags: with a broker serving TLS, a client connects with
// a tls:// URL or a nats:// URL and --tls-ca alone, and not without the
// CA; with the broker requiring client certificates (--tls-ca), only with
// --tls-cert and --tls-key of a certificate that CA signed.
func TestTLSClientFlags(t *testing.T) {
	certs := brokertest.NewCerts(t)
	ready := func(args ...string) (int, string) {
		code, _, errOut := exitOf(t, "drover", append([]string{"ready", "--timeout", "10s"}, args...)...)
		return code, errOut
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	b := start(t, "broker", "--listen", addr, "--store", t.TempDir(), "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey)
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(b.String(), "broker ready") }, "the broker (output: %s)", b)
	if !strings.Contains(b.String(), "tls://"+addr) {
		t.Errorf("the broker does not say it serves tls://%s: %s", addr, b)
	}
	for _, url := range []string{"tls://" + addr, "nats://" + addr} {
		if code, errOut := ready("--nats", url, "--tls-ca", certs.CA); code != 0 {
			t.Errorf("drover ready --nats %s --tls-ca: exit %d, %q", url, code, errOut)
		}
	}
	if code, errOut := ready("--nats", "tls://"+addr); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Errorf("drover ready without --tls-ca: exit %d, %q; want a certificate error", code, errOut)
	}
	b.stop()

	addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	b = start(t, "broker", "--listen", addr, "--store", t.TempDir(), "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-ca", certs.CA)
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(b.String(), "broker ready") }, "the broker (output: %s)", b)
	url := "tls://" + addr
	if code, errOut := ready("--nats", url, "--tls-ca", certs.CA, "--tls-cert", certs.ClientCert, "--tls-key", certs.ClientKey); code != 0 {
		t.Errorf("drover ready with a client certificate: exit %d, %q", code, errOut)
	}
	if code, _ := ready("--nats", url, "--tls-ca", certs.CA); code == 0 {
		t.Error("drover ready without a client certificate succeeded")
	}
	if code, _ := ready("--nats", url, "--tls-ca", certs.CA, "--tls-cert", certs.StrangerCert, "--tls-key", certs.StrangerKey); code == 0 {
		t.Error("drover ready with a certificate of another CA succeeded")
	}
}

// TestBeforeTheMaster: with permissions, drover and a worker started
// before any master cannot create the streams, and do not try: drover
// says no master runs or made the deployment, and the worker waits for
// one and then serves.
func TestBeforeTheMaster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	if code, out, errOut := exitOf(t, "drover", "auth", "init", "--dir", dir); code != 0 {
		t.Fatalf("drover auth init: exit %d: %s%s", code, out, errOut)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	url := "nats://" + addr
	b := start(t, "broker", "--config", filepath.Join(dir, auth.BrokerFile), "--listen", addr, "--store", t.TempDir())
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(b.String(), "broker ready") }, "the broker (output: %s)", b)
	as := func(role auth.Role) []string {
		return []string{"--nats", url, "--nkey", filepath.Join(dir, auth.SeedFile(role))}
	}

	f := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(f, []byte("a b\n"), 0o644)
	for _, c := range []struct {
		role auth.Role
		args []string
	}{
		{auth.Reader, []string{"jobs"}},
		{auth.Reader, []string{"status", "j-1"}},
		{auth.Reader, []string{"get", "j-1", "-o", t.TempDir()}},
		{auth.Submitter, []string{"submit", "--app", "wordcount", f}},
	} {
		code, _, errOut := exitOf(t, "drover", append(c.args, as(c.role)...)...)
		if code != 1 || strings.Contains(errOut, "Violation") || !strings.Contains(errOut, "no master is running") && !strings.Contains(errOut, "start a master first") {
			t.Errorf("drover %s as %s before any master: exit %d, %q; want 1 and no master", c.args[0], c.role, code, errOut)
		}
	}

	w := start(t, "worker", as(auth.Worker)...)
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(w.String(), "waiting for a master") }, "the worker to say it waits for a master (output: %s)", w)
	m := start(t, "master", append(as(auth.Master), "--log-level", "warn")...)
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(w.String(), "worker ready") }, "the worker to serve once a master runs (output: %s)", w)
	if strings.Contains(m.String(), "Violation") || strings.Contains(w.String(), "Violation") {
		t.Errorf("a daemon was refused something:\nmaster: %s\nworker: %s", m, w)
	}
}

// TestSubmittersSeeTheirOwnJobs: with one submitter user each, as drover
// auth init --user makes them, alice and bob see, list and cancel their
// own jobs alone; another's job is to them a job that does not exist,
// and calling the master in the other's name is refused by NATS. A
// reader sees every job, with who submitted it.
func TestSubmittersSeeTheirOwnJobs(t *testing.T) {
	s := newSecured(t, "alice=submitter", "bob=exec-submitter")
	ok := func(o outcome, what string) string {
		t.Helper()
		if o.refused != "" || o.err != nil {
			t.Fatalf("%s: %v", what, o)
		}
		return o.stdout
	}
	release := filepath.Join(t.TempDir(), "release")
	bobs := strings.TrimSpace(ok(s.tryDroverAs("bob", "submit", "--app", "streaming", "--arg", held("true", release, "sed 's/$/\t1/'"), "--arg", "cat", "-r", "1", s.input), "bob's submit"))
	alices := strings.TrimSpace(ok(s.tryDroverAs("alice", "submit", "--app", "wordcount", s.input), "alice's submit"))

	for user, own := range map[string]string{"alice": alices, "bob": bobs} {
		list := ok(s.tryDroverAs(user, "jobs"), user+"'s drover jobs")
		if got := strings.Count(list, "\n"); got != 2 || !strings.Contains(list, own) || !strings.HasSuffix(list, user+"\n") {
			t.Errorf("%s's drover jobs:\n%s\nwant the header and %s, by %s, alone", user, list, own, user)
		}
	}
	list := ok(s.tryDrover(auth.Reader, "jobs"), "the reader's drover jobs")
	for _, want := range []string{alices, bobs, " alice\n", " bob\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("the reader's drover jobs:\n%s\nwant %q in it", list, want)
		}
	}
	if st := ok(s.tryDroverAs("alice", "status", alices), "alice's status"); !strings.Contains(st, "by alice") {
		t.Errorf("alice's status of her job:\n%s\nwant it submitted by alice", st)
	}

	for _, op := range []string{"status", "cancel", "delete"} {
		o := s.tryDroverAs("alice", op, bobs)
		if o.err == nil || !strings.Contains(o.err.Error(), "no job "+bobs) {
			t.Errorf("alice's drover %s of bob's job: %v; want: no job %s", op, o, bobs)
		}
	}
	if o := s.tryDroverAs("alice", "get", bobs, "-o", filepath.Join(t.TempDir(), "out")); o.err == nil || !strings.Contains(o.err.Error(), "no job "+bobs) {
		t.Errorf("alice's drover get of bob's job: %v; want: no job %s", o, bobs)
	}
	if o := s.tryDroverAs("alice", "cancel", bobs, "--as", "bob"); o.refused == "" {
		t.Errorf("alice's drover cancel --as bob: %v; want it refused by NATS", o)
	}
	if st := s.status(bobs); st.State.Ended() || st.Owner != "bob" {
		t.Errorf("bob's job after alice's tries: %s, owner %q; want it running, bob's", st.State, st.Owner)
	}
	if out := ok(s.tryDroverAs("bob", "cancel", bobs), "bob's cancel"); !strings.Contains(out, "cancelled") {
		t.Errorf("bob's drover cancel said %q", out)
	}
	s.waitDone(alices)

	// alice reads her job's outputs through the master, and nothing of
	// any job from the streams behind it: not its outputs, events,
	// record or commits.
	out := filepath.Join(t.TempDir(), "alices")
	ok(s.tryDroverAs("alice", "get", alices, "-o", out), "alice's drover get")
	if files, _ := filepath.Glob(filepath.Join(out, "part-*")); len(files) == 0 {
		t.Errorf("alice's drover get wrote no part file in %s", out)
	}
	output := s.status(alices).Outputs[0]
	for what, op := range map[string]func(context.Context, jetstream.JetStream) error{
		"its output": func(ctx context.Context, js jetstream.JetStream) error {
			obs, err := js.ObjectStore(ctx, mr.ObjectStoreData)
			if err == nil {
				_, err = obs.GetBytes(ctx, output)
			}
			return err
		},
		"its events": func(ctx context.Context, js jetstream.JetStream) error {
			_, err := js.OrderedConsumer(ctx, mr.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{mr.EventSubject(alices, mr.EventStarted)}})
			return err
		},
		"its record": func(ctx context.Context, js jetstream.JetStream) error {
			kv, err := js.KeyValue(ctx, mr.BucketJobs)
			if err == nil {
				_, err = kv.Get(ctx, alices)
			}
			return err
		},
	} {
		if o := s.tryGo(auth.Role("alice"), func(ctx context.Context, _ *nats.Conn, js jetstream.JetStream) error { return op(ctx, js) }); o.refused == "" {
			t.Errorf("alice reading %s from JetStream: %v; want it refused by NATS", what, o)
		}
	}
}
