package auth

import (
	"bytes"
	"context"
	"errors"
	"github.com/drover-dev/drover/examples/kv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/tasks"
)

// matches reports whether subject falls under pattern, with NATS's
// wildcards: * one token, > one or more at the end.
func matches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func allows(patterns []string, subject string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matches(p, subject) })
}

func TestMatches(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"a.b", "a.b", true},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{">", "a", true},
		{"$JS.API.CONSUMER.*.S", "$JS.API.CONSUMER.CREATE.S", true},
		{"$JS.API.CONSUMER.*.S.>", "$JS.API.CONSUMER.MSG.NEXT.S.c", false},
	}
	for _, tt := range tests {
		if got := matches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

const (
	pub = "publish"
	sub = "subscribe"
)

// TestRoleSubjects: each role may publish and subscribe to what its work
// takes, and not to what would let it do another role's.
func TestRoleSubjects(t *testing.T) {
	tests := []struct {
		role    Role
		op      string
		subject string
		want    bool
	}{
		{Worker, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_TASKS.workers", true},
		{Worker, pub, "$JS.ACK.DROVER_TASKS.workers.1.2.3.4.5", true},
		{Worker, pub, "$KV.drover-commits.j-1.map.0", true},
		{Worker, pub, "$JS.API.DIRECT.GET.KV_drover-commits.$KV.drover-commits.j-1.map.0", true},
		{Worker, pub, "$O.drover-data.C.abc", true},
		{Worker, pub, "drover.event.j-1.started", true},
		{Worker, pub, "rpcq.Time.Now", true},
		{Worker, sub, "_INBOX_UWORKER.abc.def", true},
		{Worker, sub, "_INBOX.abc.def", false},
		{Worker, sub, "drover.worker.w1", true},
		{Worker, pub, "drover.worker.w1", false},
		{Worker, pub, "$KV.drover-workers.w1", true},
		{Worker, pub, "$JS.API.STREAM.INFO.KV_drover-workers", true},
		{Worker, pub, "$JS.API.STREAM.CREATE.KV_drover-workers", false},
		{Worker, pub, "$JS.API.STREAM.PURGE.KV_drover-workers", false},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.KV_drover-workers.abc.$KV.drover-workers.>", true},
		{Reader, pub, "$JS.API.CONSUMER.DELETE.KV_drover-workers.abc", true},
		{Reader, pub, "$JS.FC.KV_drover-workers.x.y", true},
		{Reader, pub, "$KV.drover-workers.w1", false},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.KV_drover-jobs.abc.$KV.drover-jobs.>", false},
		{Submitter, pub, "$KV.drover-workers.w1", false},
		{Master, pub, "$JS.API.STREAM.CREATE.KV_drover-workers", true},
		{Master, pub, "$KV.drover-workers.w1", false},
		{Master, pub, "drover.worker.w1", true},
		{Submitter, sub, "drover.worker.w1", false},
		{Worker, sub, "_INBOX_UOTHER.abc.def", false},
		{Worker, pub, "drover.task.j-1.map.0", false},
		{Worker, pub, "$JS.API.STREAM.CREATE.DROVER_TASKS", false},
		{Worker, pub, "$JS.API.STREAM.UPDATE.DROVER_TASKS", false},
		{Worker, pub, "$JS.API.STREAM.DELETE.DROVER_TASKS", false},
		{Worker, pub, "$JS.API.STREAM.PURGE.OBJ_drover-data", true},
		{Worker, pub, "$JS.API.STREAM.PURGE.DROVER_TASKS", false},
		{Worker, pub, "$JS.API.CONSUMER.CREATE.DROVER_TASKS.mine", false},
		{Worker, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_EVENTS.x", false},
		{Worker, pub, "$KV.drover-jobs.j-1", false},
		{Worker, pub, "rpcq.Master.Submit", false},
		{Worker, sub, "rpcq.Time.Now", false},
		{Worker, sub, "$SRV.INFO.Time", false},

		{Submitter, pub, "rpcq.Master.Cancel.alice", true},
		{Submitter, pub, "rpcq.Master.Cancel.bob", false},
		{Submitter, pub, "rpcq.Master.Cancel", false},
		{Submitter, pub, "rpcq.Master.Submit.alice", true},
		{Submitter, pub, "rpcq.Master.Submit.bob", false},
		{Submitter, pub, "rpcq.Master.Submit.*", false},
		{Submitter, pub, "rpcq.Master.Submit", false},
		{Submitter, pub, "rpcq.Master.Status.alice", true},
		{Submitter, pub, "rpcq.Master.ListPage.alice", true},
		{Submitter, pub, "rpcq.Master.Status", false},
		{Submitter, pub, "rpcq.Master.List", false},
		{Submitter, pub, "$SRV.PING.Master", true},
		{Submitter, pub, "$O.drover-inputs.M.aW5wdXRzL2E", true},
		{Submitter, pub, "$O.drover-inputs.C.abc", true},
		{Submitter, pub, "$O.drover-data.M.am9icy9q", false}, // no map output, no job output
		{Submitter, pub, "$O.drover-data.C.abc", false},
		{Submitter, pub, "$JS.API.STREAM.PURGE.OBJ_drover-data", false},
		{Worker, pub, "$O.drover-inputs.C.abc", false},
		{Worker, pub, "$JS.API.CONSUMER.CREATE.OBJ_drover-inputs.abc.$O.drover-inputs.C.nuid", true},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.OBJ_drover-inputs.abc.$O.drover-inputs.C.nuid", false},
		// Outputs are read through the master, which knows their owners.
		{Submitter, pub, "rpcq.Master.Output.alice", true},
		{Submitter, pub, "rpcq.Master.Output", false},
		{Submitter, pub, "$JS.API.CONSUMER.CREATE.OBJ_drover-data.abc.$O.drover-data.C.nuid", false},
		{Submitter, pub, "$JS.API.DIRECT.GET.OBJ_drover-data.$O.drover-data.M.abc", false},
		{Submitter, pub, "rpcq.Master.SubmitExec.alice", false},
		{Submitter, pub, "drover.task.x.map.0", false},
		{Submitter, pub, "$KV.drover-commits.x.map.0", false},
		{Submitter, pub, "$KV.drover-jobs.x", false},
		{Submitter, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_TASKS.workers", false},
		{Submitter, pub, "$JS.API.STREAM.CREATE.DROVER_TASKS", false},
		{Submitter, pub, "$JS.API.CONSUMER.CREATE.OBJ_drover-data.abc.$O.drover-data.M.>", false},
		{Submitter, pub, "rpcq.Time.Now", false},
		{Submitter, sub, "rpcq.Time.Now", false},
		{Submitter, sub, "rpcq.Master.Submit", false},
		{Submitter, sub, "$SRV.PING", false},

		{ExecSubmitter, pub, "rpcq.Master.SubmitExec.alice", true},
		{ExecSubmitter, pub, "rpcq.Master.Submit.alice", true},
		{ExecSubmitter, pub, "rpcq.Master.SubmitExec.bob", false},
		{ExecSubmitter, pub, "rpcq.Master.SubmitExec", false},
		{ExecSubmitter, pub, "drover.task.x.map.0", false},

		{Reader, pub, "rpcq.Master.Status", true},
		{Reader, pub, "rpcq.Master.List", true},
		{Reader, pub, "rpcq.Master.ListPage", true},
		{Reader, pub, "rpcq.Master.Output", true},
		{Reader, pub, "$JS.API.DIRECT.GET.OBJ_drover-data.$O.drover-data.M.abc", false},
		{Reader, pub, "rpcq.Master.Submit", false},
		{Reader, pub, "rpcq.Master.Submit.alice", false},
		{Reader, pub, "rpcq.Master.Cancel.alice", false},
		{Reader, pub, "rpcq.Master.Cancel", false},
		{Reader, pub, "$O.drover-data.C.abc", false},
		{Reader, pub, "$O.drover-data.M.abc", false},
		{Reader, pub, "$JS.API.STREAM.PURGE.OBJ_drover-data", false},
		// A job's runs are read through the master, as its outputs are.
		{Reader, pub, "rpcq.Master.Runs", true},
		{Submitter, pub, "rpcq.Master.Runs.alice", true},
		{Submitter, pub, "rpcq.Master.Runs", false},
		{Reader, pub, "$JS.API.DIRECT.GET.KV_drover-jobs.$KV.drover-jobs.j-1", false},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.DROVER_EVENTS.abc.drover.event.j-1.started", false},
		{Reader, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_EVENTS.abc", false},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.KV_drover-commits.abc.$KV.drover-commits.j-1.>", false},
		{Reader, pub, "$JS.API.CONSUMER.MSG.NEXT.KV_drover-commits.abc", false},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.DROVER_EVENTS.abc", false},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.DROVER_TASKS.abc.drover.task.>", false},
		{Reader, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_TASKS.workers", false},
		{Reader, pub, "$KV.drover-commits.j-1.map.0", false},
		{Reader, pub, "drover.event.j-1.started", false},

		{Master, pub, "drover.task.j-1.map.0", true},
		{Master, pub, "$JS.API.STREAM.CREATE.DROVER_TASKS", true},
		{Master, pub, "$JS.API.STREAM.UPDATE.KV_drover-jobs", true},
		{Master, pub, "$JS.API.CONSUMER.CREATE.DROVER_TASKS.workers", true},
		{Master, pub, "$JS.API.CONSUMER.CREATE.DROVER_EVENTS", true},
		{Master, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_EVENTS.x", true},
		{Master, pub, "$JS.API.STREAM.PURGE.DROVER_TASKS", true},
		{Master, sub, "rpcq.Master.Submit", true},
		{Master, sub, "rpcq.Master.Submit.alice", true},
		{Master, sub, "rpcq.Time.Now", true},
		{Master, sub, "$SRV.PING", true},
		{Master, sub, "$SRV.INFO.Master.abc", true},
		{Master, pub, "$JS.API.STREAM.CREATE.OTHER", false},
		{Master, pub, "$JS.API.STREAM.DELETE.DROVER_TASKS", false},
		{Master, pub, "$JS.API.CONSUMER.MSG.NEXT.OTHER.x", false},
		{Master, pub, "other.subject", false},
		{Master, sub, "rpcq.KV.Get", false},

		{Submitter, pub, "drover.tq.q.default.t1", true},
		{Worker, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_TQ.queue-default", true},
		{Worker, pub, "$JS.API.CONSUMER.CREATE.DROVER_TQ.queue-default.drover.tq.q.default.>", true},
		{Reader, pub, "$JS.API.CONSUMER.CREATE.DROVER_TQ.queue-default.drover.tq.q.default.>", false},
		{Reader, pub, "$JS.API.CONSUMER.MSG.NEXT.DROVER_TQ.queue-default", false},
		{Reader, pub, "drover.tq.q.default.t1", false},
		{Reader, pub, "$KV.drover-tq-tasks.t1", false},
		{Reader, pub, "$JS.API.DIRECT.GET.KV_drover-tq-tasks.$KV.drover-tq-tasks.t1", true},
		{Reader, pub, "$JS.API.CONSUMER.LIST.DROVER_TQ", true},
		{Submitter, pub, "$JS.API.STREAM.CREATE.DROVER_TQ", false},
		{Master, pub, "$JS.API.STREAM.CREATE.DROVER_TQ", true},
		{Master, pub, "$JS.API.STREAM.CREATE.KV_drover-tq-schedules", true},
		{Admin, pub, "anything.at.all", true},
		{Admin, sub, "rpcq.Time.Now", true},
	}
	for _, tt := range tests {
		p := UserPermissions(User{Name: "alice", Role: tt.role, PublicKey: "U" + strings.ToUpper(strings.ReplaceAll(string(tt.role), "-", ""))})
		list := p.Publish
		if tt.op == sub {
			list = p.Subscribe
		}
		if got := allows(list, tt.subject); got != tt.want {
			t.Errorf("%s may %s to %s = %v, want %v", tt.role, tt.op, tt.subject, got, tt.want)
		}
	}
}

// TestOnlyTheMasterServes: no role but master and admin may publish a
// task, answer a request, or subscribe to a subject a service serves.
func TestOnlyTheMasterServes(t *testing.T) {
	served := []string{"rpcq.Master.Submit", "rpcq.Master.SubmitExec", "rpcq.Time.Now", "$SRV.PING", "$SRV.INFO.Time", "$SRV.STATS.Master.x", "drover.task.j.map.0"}
	for _, role := range []Role{Worker, Submitter, ExecSubmitter, Reader} {
		p := PermissionsOf(role)
		if p.Responses {
			t.Errorf("%s may answer requests", role)
		}
		for _, s := range served {
			if allows(p.Subscribe, s) {
				t.Errorf("%s may subscribe to %s", role, s)
			}
		}
		if allows(p.Publish, "drover.task.j.map.0") || allows(p.Publish, "_INBOX.x.y") {
			t.Errorf("%s may publish a task or a reply", role)
		}
		want := []string{inboxes}
		if role == Worker {
			want = append(want, mr.WorkerSubjects())
		}
		if role != Reader { // the task queue's users
			want = append(want, tasks.CancelSubjects(), tasks.StreamSubjects())
		}
		if !slices.Equal(p.Subscribe, want) {
			t.Errorf("%s subscribes to %q, want %q: replies, a worker its liveness subject, a task queue's user its cancel notices and queue messages", role, p.Subscribe, want)
		}
	}
	if !PermissionsOf(Master).Responses {
		t.Error("master may not answer requests")
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); got != r || err != nil {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
		if len(Grants(r)) == 0 {
			t.Errorf("Grants(%s) is empty", r)
		}
	}
	if _, err := ParseRole("root"); !errors.Is(err, ErrUnknownRole) || !strings.Contains(err.Error(), "exec-submitter") {
		t.Errorf("ParseRole(root) = %v, want ErrUnknownRole listing the roles", err)
	}
}

func users(t *testing.T) []User {
	t.Helper()
	var us []User
	for _, r := range Roles() {
		u, err := NewUser(r)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	return us
}

// TestServerConfigParses: nats-server reads the configuration back as
// the users and permissions it was written from.
func TestServerConfigParses(t *testing.T) {
	us := users(t)
	conf, err := ServerConfig(Account{"DROVER", us})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "auth.conf")
	os.WriteFile(path, conf, 0o600)
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("ProcessConfigFile: %v\n%s", err, conf)
	}
	if len(opts.Nkeys) != len(us) {
		t.Fatalf("%d nkey users, want %d", len(opts.Nkeys), len(us))
	}
	for i, u := range us {
		got, want := opts.Nkeys[i], UserPermissions(u)
		if got.Nkey != u.PublicKey || got.Account == nil || got.Account.Name != "DROVER" {
			t.Errorf("user %d = %s in %v, want %s in DROVER", i, got.Nkey, got.Account, u.PublicKey)
			continue
		}
		p := got.Permissions
		if want.Responses && (p.Response == nil || p.Response.MaxMsgs != MaxResponses || p.Response.Expires != ResponseExpiry) {
			t.Errorf("%s responses = %+v, want %d within %v", u.Role, p.Response, MaxResponses, ResponseExpiry)
		}
		if !slices.Equal(p.Publish.Allow, want.Publish) || !slices.Equal(p.Subscribe.Allow, want.Subscribe) || (p.Response != nil) != want.Responses {
			t.Errorf("%s permissions = %+v %+v %+v, want %+v", u.Role, p.Publish, p.Subscribe, p.Response, want)
		}
		if bytes.Contains(conf, u.Seed) {
			t.Errorf("the configuration holds %s's seed", u.Role)
		}
	}
	if _, err := ServerConfig(Account{"BAD NAME", us}); err == nil {
		t.Error("ServerConfig with a bad account name succeeded")
	}
	if _, err := ServerConfig(Account{"DROVER", []User{{Name: "w", Role: Worker, PublicKey: "SUAAA"}}}); err == nil {
		t.Error("ServerConfig with a seed for a public key succeeded")
	}
}

// TestInit: the files are there, the owner's alone; the seeds are those
// of the configuration's users; nothing is overwritten without Force.
func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	paths, err := Init(InitConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + len(Roles()); len(paths) != want {
		t.Fatalf("Init wrote %d files, want %d", len(paths), want)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode = %v, %v; want 0700", st.Mode(), err)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, AuthFile))
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, %v; want 0600", p, st.Mode(), err)
		}
	}
	for _, r := range Roles() {
		seed, _ := os.ReadFile(filepath.Join(dir, SeedFile(r)))
		kp, err := nkeys.ParseDecoratedNKey(seed)
		if err != nil {
			t.Fatalf("%s seed: %v", r, err)
		}
		pub, _ := kp.PublicKey()
		if !bytes.Contains(conf, []byte("nkey: "+pub)) {
			t.Errorf("%s's public key is not in %s", r, AuthFile)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(paths) {
		t.Errorf("directory holds %d entries, want %d (no temporary file left)", len(entries), len(paths))
	}

	before, _ := os.ReadFile(filepath.Join(dir, SeedFile(Worker)))
	if _, err := Init(InitConfig{Dir: dir}); !errors.Is(err, ErrExists) {
		t.Fatalf("Init again = %v, want ErrExists", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, SeedFile(Worker))); !bytes.Equal(before, after) {
		t.Error("Init without Force changed a seed")
	}
	if _, err := Init(InitConfig{Dir: dir, Force: true}); err != nil {
		t.Fatalf("Init with Force = %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, SeedFile(Worker))); bytes.Equal(before, after) {
		t.Error("Init with Force kept the old seed")
	}

	other := t.TempDir()
	os.WriteFile(filepath.Join(other, SeedFile(Reader)), []byte("mine"), 0o600)
	if _, err := Init(InitConfig{Dir: other}); !errors.Is(err, ErrExists) {
		t.Fatalf("Init over one existing file = %v, want ErrExists", err)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Errorf("Init that refused wrote %d files, want none", len(entries)-1)
	}
	if _, err := Init(InitConfig{Dir: t.TempDir(), Roles: []Role{Worker, Worker}}); err == nil {
		t.Error("Init with a role twice succeeded")
	}
	if _, err := Init(InitConfig{Dir: t.TempDir(), Roles: []Role{"root"}}); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("Init with an unknown role = %v, want ErrUnknownRole", err)
	}
}

// TestBrokerFileServes: the broker runs with BrokerFile, admits each
// role's seed and nobody without one, and serves JetStream to admin.
func TestBrokerFileServes(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(InitConfig{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	b := brokertest.Start(t, broker.Config{ConfigFile: filepath.Join(dir, BrokerFile)})
	if nc, err := nats.Connect(b.ClientURL(), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("connect without a seed succeeded")
	}
	for _, r := range Roles() {
		opt, err := nats.NkeyOptionFromSeed(filepath.Join(dir, SeedFile(r)))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(b.ClientURL(), opt, nats.NoReconnect())
		if err != nil {
			t.Fatalf("connect as %s: %v", r, err)
		}
		defer nc.Close()
		if got := nc.MaxPayload(); got != 8<<20 {
			t.Errorf("max payload = %d, want 8 MiB", got)
		}
		if r != Admin {
			continue
		}
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
			t.Fatalf("admin CreateStream: %v", err)
		}
	}
}

func TestKVServiceName(t *testing.T) {
	if kvService != kv.ServiceName {
		t.Errorf("kvService = %q, want examples/kv's ServiceName %q", kvService, kv.ServiceName)
	}
}

// TestInitNamedUsers: --user's users get seed files of their names; a
// submitter's names it, so that drover --nkey calls the master as it, and
// its permissions name it too; a role that sees every job names no one.
func TestInitNamedUsers(t *testing.T) {
	dir := t.TempDir()
	_, err := Init(InitConfig{Dir: dir, Users: []UserSpec{{"alice", Submitter}, {"bob", ExecSubmitter}, {"ops", Reader}}})
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, AuthFile))
	for name, want := range map[string]string{"alice": "alice", "bob": "bob", "ops": "", "submitter": "submitter", "reader": "", "admin": ""} {
		seed, err := os.ReadFile(filepath.Join(dir, UserSeedFile(name)))
		if err != nil {
			t.Fatal(err)
		}
		if got := CallerIn(seed); got != want {
			t.Errorf("%s's seed file names %q, want %q", name, got, want)
		}
		if _, err := nkeys.ParseDecoratedUserNKey(seed); err != nil {
			t.Errorf("%s's seed file: %v", name, err)
		}
	}
	for _, want := range []string{`"rpcq.Master.Submit.alice"`, `"rpcq.Master.SubmitExec.bob"`, "# alice, a submitter, may:"} {
		if !bytes.Contains(conf, []byte(want)) {
			t.Errorf("%s lacks %s", AuthFile, want)
		}
	}
	for _, bad := range [][]UserSpec{{{"alice", Submitter}, {"alice", Reader}}, {{"reader", Submitter}}, {{"a.b", Submitter}}, {{"x", "root"}}} {
		if _, err := Init(InitConfig{Dir: t.TempDir(), Users: bad}); err == nil {
			t.Errorf("Init with users %v: no error", bad)
		}
	}
	for _, content := range []string{"SUABC\n", "# drover-as: a.b\nSU\n", "# drover-as: \n"} {
		if got := CallerIn([]byte(content)); got != "" {
			t.Errorf("CallerIn(%q) = %q, want none", content, got)
		}
	}
}

// TestInitTenants: each tenant is an account of its own with every user,
// its seeds in a directory of its own; nats-server reads them back so.
func TestInitTenants(t *testing.T) {
	dir := t.TempDir()
	paths, err := Init(InitConfig{Dir: dir, Tenants: []string{"teama", "teamb"}, Users: []UserSpec{{"alice", Submitter}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + 2*(len(Roles())+1); len(paths) != want {
		t.Errorf("Init wrote %d files, want %d", len(paths), want)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, AuthFile))
	if err != nil {
		t.Fatal(err)
	}
	accountOf := map[string]string{}
	for _, nk := range opts.Nkeys {
		accountOf[nk.Nkey] = nk.Account.Name
	}
	for _, tenant := range []string{"teama", "teamb"} {
		for _, name := range []string{"admin", "submitter", "alice"} {
			seed, err := os.ReadFile(filepath.Join(dir, tenant, UserSeedFile(name)))
			if err != nil {
				t.Fatal(err)
			}
			kp, err := nkeys.ParseDecoratedUserNKey(seed)
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := kp.PublicKey()
			if accountOf[pub] != tenant {
				t.Errorf("%s/%s is a user of account %q, want %s", tenant, name, accountOf[pub], tenant)
			}
		}
		if st, err := os.Stat(filepath.Join(dir, tenant)); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s's directory: %v, %v; want 0700", tenant, st.Mode(), err)
		}
	}
	for _, bad := range [][]string{{"a", "a"}, {"../x"}, {"$SYS"}} {
		if _, err := Init(InitConfig{Dir: t.TempDir(), Tenants: bad}); err == nil {
			t.Errorf("Init with tenants %q: no error", bad)
		}
	}
}
