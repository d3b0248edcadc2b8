package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/broker/brokertest"
)

// TestTenantsSeeNothingOfEachOther: drover auth init --tenant makes an
// account per tenant on one broker. Each tenant runs its own master and
// worker with its own seeds; a job of one is neither listed, nor shown,
// nor readable, nor cancellable by any user of the other, its admin
// included, and each tenant's deployment works on its own.
func TestTenantsSeeNothingOfEachOther(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	if code, out, errOut := exitOf(t, "drover", "auth", "init", "--dir", dir, "--tenant", "teama", "--tenant", "teamb"); code != 0 {
		t.Fatalf("drover auth init: exit %d: %s%s", code, out, errOut)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	broker := start(t, "broker", "--config", filepath.Join(dir, auth.BrokerFile), "--listen", addr, "--store", t.TempDir())
	brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(broker.String(), "broker ready") }, "the broker (output: %s)", broker)
	as := func(tenant string, role auth.Role) []string {
		return []string{"--nats", "nats://" + addr, "--nkey", filepath.Join(dir, tenant, auth.SeedFile(role))}
	}
	for _, tenant := range []string{"teama", "teamb"} {
		start(t, "master", append(as(tenant, auth.Master), "--lease", lease, "--leader-ttl", "1s", "--log-level", "warn")...)
		w := start(t, "worker", append(as(tenant, auth.Worker), "--slots", "1", "--log-level", "info")...)
		if code, out, errOut := exitOf(t, "drover", append([]string{"ready", "--service", "Master", "--timeout", "30s"}, as(tenant, auth.Reader)...)...); code != 0 {
			t.Fatalf("drover ready for %s: exit %d: %s%s", tenant, code, out, errOut)
		}
		brokertest.WaitFor(t, 30*time.Second, func() bool { return strings.Contains(w.String(), "worker ready") }, "%s's worker (output: %s)", tenant, w)
	}
	input := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(input, []byte("the quick fox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	drover := func(tenant string, role auth.Role, args ...string) (int, string, string) {
		t.Helper()
		return exitOf(t, "drover", append(args, as(tenant, role)...)...)
	}
	jobs := map[string]string{}
	for _, tenant := range []string{"teama", "teamb"} {
		code, out, errOut := drover(tenant, auth.Submitter, "submit", "--app", "wordcount", "--wait", input)
		if code != 0 {
			t.Fatalf("%s's submit: exit %d: %s", tenant, code, errOut)
		}
		jobs[tenant] = strings.TrimSpace(out)
	}
	for tenant, other := range map[string]string{"teama": "teamb", "teamb": "teama"} {
		for _, role := range []auth.Role{auth.Reader, auth.Admin} {
			_, list, _ := drover(tenant, role, "jobs")
			if !strings.Contains(list, jobs[tenant]) || strings.Contains(list, jobs[other]) {
				t.Errorf("%s's %s lists:\n%s\nwant %s's job %s alone", tenant, role, list, tenant, jobs[tenant])
			}
			if code, _, errOut := drover(tenant, role, "status", jobs[other]); code == 0 || !strings.Contains(errOut, "no job "+jobs[other]) {
				t.Errorf("%s's %s: drover status of %s's job: exit %d, %s; want: no job", tenant, role, other, code, errOut)
			}
		}
		if code, _, errOut := drover(tenant, auth.Admin, "get", jobs[other], "-o", filepath.Join(t.TempDir(), "out")); code == 0 || !strings.Contains(errOut, "no job") {
			t.Errorf("%s's admin: drover get of %s's job: exit %d, %s; want: no job", tenant, other, code, errOut)
		}
		out := filepath.Join(t.TempDir(), "out")
		if code, _, errOut := drover(tenant, auth.Submitter, "get", jobs[tenant], "-o", out); code != 0 {
			t.Errorf("%s's get of its own job: exit %d, %s", tenant, code, errOut)
		} else {
			var all strings.Builder
			parts, _ := filepath.Glob(filepath.Join(out, "part-*"))
			for _, p := range parts {
				data, _ := os.ReadFile(p)
				all.Write(data)
			}
			if !strings.Contains(all.String(), "fox 1\n") {
				t.Errorf("%s's output: %q, want fox 1 in it", tenant, all.String())
			}
		}
	}
}
