package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-dev/drover/auth"
)

func runAuthCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = exitCode(run(context.Background(), args, &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

// TestAuthInit: drover auth init writes the configuration and a seed file
// per role, the owner's alone, and overwrites them only with --force.
func TestAuthInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	code, out, errOut := runAuthCmd("auth", "init", "--dir", dir)
	if code != 0 {
		t.Fatalf("auth init: exit %d, %q", code, errOut)
	}
	for _, name := range []string{auth.AuthFile, auth.BrokerFile, "master.nk", "worker.nk", "submitter.nk", "exec-submitter.nk", "reader.nk", "admin.nk"} {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, st.Mode())
		}
		if !strings.Contains(out, path+"\n") {
			t.Errorf("output does not name %s:\n%s", path, out)
		}
	}
	if !strings.Contains(out, "broker --config "+filepath.Join(dir, auth.BrokerFile)) {
		t.Errorf("output does not say how to run the broker:\n%s", out)
	}
	seed, _ := os.ReadFile(filepath.Join(dir, "worker.nk"))
	if strings.Contains(out, strings.TrimSpace(string(seed))) {
		t.Error("auth init printed a seed")
	}

	code, _, errOut = runAuthCmd("auth", "init", "--dir", dir)
	if want := "drover: " + filepath.Join(dir, auth.AuthFile) + " exists; --force overwrites it"; code != 1 || !strings.HasPrefix(errOut, want) {
		t.Errorf("auth init again: exit %d, %q; want 1 and %q", code, errOut, want)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "worker.nk")); !bytes.Equal(again, seed) {
		t.Error("auth init without --force changed a seed")
	}
	if code, _, errOut := runAuthCmd("auth", "init", "--dir", dir, "--force"); code != 0 {
		t.Fatalf("auth init --force: exit %d, %q", code, errOut)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "worker.nk")); bytes.Equal(again, seed) {
		t.Error("auth init --force kept the old seed")
	}

	some := t.TempDir()
	if code, _, errOut := runAuthCmd("auth", "init", "--dir", some, "--role", "worker", "--role", "master", "--account", "MR"); code != 0 {
		t.Fatalf("auth init --role: exit %d, %q", code, errOut)
	}
	entries, _ := os.ReadDir(some)
	conf, _ := os.ReadFile(filepath.Join(some, auth.AuthFile))
	if len(entries) != 4 || !strings.Contains(string(conf), "MR: {") {
		t.Errorf("auth init --role worker --role master --account MR wrote %d files, config:\n%s", len(entries), conf)
	}
}

func TestAuthUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"auth"}, "drover: auth needs a command: init or roles"},
		{[]string{"auth", "frob"}, `drover: unknown auth command "frob"`},
		{[]string{"auth", "init"}, "drover: auth init needs --dir"},
		{[]string{"auth", "init", "--dir", "x", "extra"}, "drover: auth init takes no arguments"},
		{[]string{"auth", "init", "--dir", "x", "--role", "root"}, `drover: invalid value "root" for flag -role: unknown role "root": want one of master, worker`},
		{[]string{"auth", "init", "--dir", "x", "--account", "A B"}, `drover: auth: account name "A B"`},
		{[]string{"auth", "roles", "root"}, `drover: unknown role "root"`},
	}
	for _, tt := range tests {
		code, _, errOut := runAuthCmd(tt.args...)
		if code == 0 || !strings.HasPrefix(lastLine(errOut), tt.want) {
			t.Errorf("drover %q: exit %d, %q; want an error starting %q", tt.args, code, errOut, tt.want)
		}
	}
	if code, _, errOut := runAuthCmd("auth", "init", "-h"); code != 0 || !strings.Contains(errOut, "--nkey DIR/worker.nk") || !strings.Contains(errOut, "exec-submitter") {
		t.Errorf("auth init -h: exit %d, a page without how to use the files:\n%s", code, errOut)
	}
}

// TestAuthRoles: drover auth roles says what each role may do, and with
// --subjects its permissions.
func TestAuthRoles(t *testing.T) {
	code, out, errOut := runAuthCmd("auth", "roles")
	if code != 0 {
		t.Fatalf("auth roles: exit %d, %q", code, errOut)
	}
	for _, r := range auth.Roles() {
		if !strings.Contains(out, string(r)+" may:\n") {
			t.Errorf("auth roles does not list %s:\n%s", r, out)
		}
	}
	_, out, _ = runAuthCmd("auth", "roles", "worker", "--subjects")
	if !strings.HasPrefix(out, "worker may:\n") || !strings.Contains(out, "    $JS.API.CONSUMER.MSG.NEXT.DROVER_TASKS.workers\n") || strings.Contains(out, "master may") {
		t.Errorf("auth roles worker --subjects:\n%s", out)
	}
	if _, out, _ = runAuthCmd("auth", "roles", "master", "--subjects"); !strings.Contains(out, "answers the requests it receives") {
		t.Errorf("auth roles master --subjects does not say it answers requests:\n%s", out)
	}
}
