package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/internal/token"
	"github.com/drover-dev/drover/rpcq"
)

// authCommands are the subcommands of drover auth, filled by init: each
// one's flag set looks up its summary here.
var authCommands []command

func init() {
	authCommands = []command{
		{"init", "write a broker configuration with one NATS user per role, and each role's nkey seed file", runAuthInit},
		{"roles", "list the roles, what each may do and, with --subjects, its NATS permissions", runAuthRoles},
	}
}

func runAuth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		for _, c := range authCommands {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
	}
	var b strings.Builder
	b.WriteString("Usage: drover auth <init|roles> [flags]\n\nCommands:\n")
	for _, c := range authCommands {
		fmt.Fprintf(&b, "  %-6s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'drover auth <command> -h' for its flags.\n")
	switch {
	case len(args) == 0:
		io.WriteString(stderr, b.String())
		return usagef("auth needs a command: init or roles")
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		io.WriteString(stderr, b.String())
		return nil
	}
	return usagef("unknown auth command %q; run 'drover auth -h'", args[0])
}

const authInitDescription = `Writes into --dir, each file readable by its owner alone (0600), refusing
to overwrite any unless --force:

  auth.conf      the account (` + auth.DefaultAccount + `, JetStream enabled) and one nkey user
                 per role, with exactly the permissions that role's processes
                 need; include it in a nats-server configuration
  broker.conf    a complete configuration around auth.conf
  <role>.nk      each role's nkey seed, the user's secret: give each file only
                 to the processes of its role
  <name>.nk      the seed of each user --user NAME=ROLE makes

The roles: master (creates the streams, publishes tasks, serves rpcq.Master.*
and rpcq.Time.Now), worker (runs tasks, commits, asks the time), submitter
(submits jobs that run no commands, cancels, uploads inputs, reads outputs),
exec-submitter (submitter, and jobs that run commands: rpcq.Master.SubmitExec),
reader (status, jobs, get), admin (anything). 'drover auth roles --subjects'
lists their permissions.

A submitter or exec-submitter sees, lists, cancels and deletes its own jobs
alone: its calls to the master carry its user's name, the only one NATS
lets it send. Make one per person or team with --user alice=submitter;
drover --nkey DIR/alice.nk acts as alice (the file names her).

Users of one account share its streams: a submitter can read what other
jobs made. Tenants who must not see or touch each other's jobs, inputs,
outputs and tasks each get an account of their own with --tenant NAME
(repeated), every user in each, the seeds in DIR/NAME/; each tenant runs
masters and workers of its own, with its own seeds, on the same broker.

Then run, for example:

  broker --config DIR/broker.conf --store STORE \
         --tls-cert server.pem --tls-key server-key.pem --tls-ca ca.pem
  master --nats tls://HOST:4222 --tls-ca ca.pem --nkey DIR/master.nk
  worker --nats tls://HOST:4222 --tls-ca ca.pem --nkey DIR/worker.nk
  drover submit --nats tls://HOST:4222 --tls-ca ca.pem --nkey DIR/submitter.nk --app wordcount FILE

(with --tls-ca given to broker, each client also needs --tls-cert and
--tls-key). A stock nats-server takes the same files: nats-server -c
DIR/broker.conf -sd STORE, and the nats CLI takes the seeds: nats --nkey
DIR/admin.nk. The files hold no secret but the seeds; the broker keeps only
public keys.`

func runAuthInit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := authFlagSet("init", "--dir DIR [flags]", authInitDescription, stderr)
	dir := fs.String("dir", "", "directory to write the files into (made if missing, 0700); required")
	force := fs.Bool("force", false, "overwrite the files there are, making new keys: the old seeds stop working")
	account := fs.String("account", auth.DefaultAccount, "NATS account of the users")
	var roles roleList
	fs.Var(&roles, "role", "make a user of this `role` only (repeat for more; default: every role)")
	var users userList
	fs.Var(&users, "user", "also make a user of this name and role, as alice=submitter, with its seed in NAME.nk (repeat for more)")
	var tenants tenantList
	fs.Var(&tenants, "tenant", "make an account of this `name` in place of --account, with every user, its seeds in DIR/NAME/ (repeat for more: tenants see nothing of each other)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("auth init takes no arguments, got %q", pos)
	}
	if *dir == "" {
		return usagef("auth init needs --dir")
	}
	paths, err := auth.Init(auth.InitConfig{Dir: *dir, Account: *account, Tenants: tenants, Roles: roles, Users: users, Force: *force})
	if errors.Is(err, auth.ErrExists) {
		return fmt.Errorf("%s exists; --force overwrites it, and the old seeds stop working", strings.TrimPrefix(err.Error(), auth.ErrExists.Error()+": "))
	}
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintln(&b, p)
	}
	fmt.Fprintf(&b, "\nbroker --config %s\n", filepath.Join(*dir, auth.BrokerFile))
	seeds := filepath.Join(*dir, "<role>"+auth.SeedSuffix)
	if len(tenants) > 0 {
		seeds = filepath.Join(*dir, "<tenant>", "<role>"+auth.SeedSuffix)
	}
	fmt.Fprintf(&b, "then each process with its role's seed: --nkey %s\n", seeds)
	_, err = io.WriteString(stdout, b.String())
	return err
}

func runAuthRoles(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := authFlagSet("roles", "[ROLE]... [flags]", "Lists what each role (or those named) may do, as 'drover auth init' grants it.", stderr)
	subjects := fs.Bool("subjects", false, "also list the subjects each role may publish and subscribe to")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	roles := auth.Roles()
	if len(pos) > 0 {
		roles = roles[:0]
		for _, name := range pos {
			r, err := auth.ParseRole(name)
			if err != nil {
				return usagef("%v", strings.TrimPrefix(err.Error(), "auth: "))
			}
			roles = append(roles, r)
		}
	}
	var b strings.Builder
	for i, r := range roles {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s may:\n", r)
		for _, g := range auth.Grants(r) {
			fmt.Fprintf(&b, "  %s\n", g.What)
		}
		if !*subjects {
			continue
		}
		p := auth.PermissionsOf(r)
		fmt.Fprintf(&b, "  publish:\n")
		for _, s := range p.Publish {
			fmt.Fprintf(&b, "    %s\n", s)
		}
		fmt.Fprintf(&b, "  subscribe:\n")
		for _, s := range p.Subscribe {
			fmt.Fprintf(&b, "    %s\n", s)
		}
		if p.Responses {
			fmt.Fprintf(&b, "  answers the requests it receives (allow_responses)\n")
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// authFlagSet is an auth subcommand's flag set, its -h page opening with
// the subcommand's summary and then description.
func authFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	for _, c := range authCommands {
		if c.name == name {
			description = c.summary + ".\n\n" + description
		}
	}
	return cli.NewFlagSet("drover auth "+name, synopsis, description, stderr)
}

// roleList is a repeatable --role flag.
type roleList []auth.Role

func (l *roleList) String() string {
	names := make([]string, len(*l))
	for i, r := range *l {
		names[i] = string(r)
	}
	return strings.Join(names, ",")
}

func (l *roleList) Set(s string) error {
	r, err := auth.ParseRole(s)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "auth: "))
	}
	*l = append(*l, r)
	return nil
}

// userList is --user NAME=ROLE, repeated.
type userList []auth.UserSpec

func (l *userList) String() string {
	names := make([]string, len(*l))
	for i, u := range *l {
		names[i] = u.Name + "=" + string(u.Role)
	}
	return strings.Join(names, ",")
}

func (l *userList) Set(s string) error {
	name, role, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want NAME=ROLE, as alice=submitter", s)
	}
	if !rpcq.ValidCaller(name) {
		return fmt.Errorf("user name %.80q: want 1 to %d letters, digits, '-' and '_'", name, rpcq.MaxCallerLen)
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "auth: "))
	}
	*l = append(*l, auth.UserSpec{Name: name, Role: r})
	return nil
}

// tenantList is --tenant NAME, repeated.
type tenantList []string

func (l *tenantList) String() string { return strings.Join(*l, ",") }

func (l *tenantList) Set(s string) error {
	if !token.Valid(s) || len(s) > rpcq.MaxCallerLen {
		return fmt.Errorf("tenant %.80q: want 1 to %d letters, digits, '-' and '_'", s, rpcq.MaxCallerLen)
	}
	*l = append(*l, s)
	return nil
}
