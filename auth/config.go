package auth

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/rpcq"
)

// Names of what Init writes.
const (
	// DefaultAccount is the account Drover's users are put in: its
	// streams and subjects are its own, apart from any other account's.
	DefaultAccount = "DROVER"
	// AuthFile holds the account and its users, for a nats-server
	// configuration's include.
	AuthFile = "auth.conf"
	// BrokerFile is a complete configuration around AuthFile, for broker
	// --config or nats-server -c.
	BrokerFile = "broker.conf"
	// SeedSuffix ends the name of a user's seed file, <role>.nk, as nsc
	// names nkey files.
	SeedSuffix = ".nk"
)

// SeedFile is the name of the seed file of the user of role that Init
// makes, named after the role.
func SeedFile(role Role) string { return UserSeedFile(string(role)) }

// UserSeedFile is the name of the seed file of the user named name.
func UserSeedFile(name string) string { return name + SeedSuffix }

// User is one NATS user of a deployment, authenticated by an nkey: the
// server knows its public key, the user alone its seed.
type User struct {
	// Name names the user, in the configuration's comments and its seed
	// file's name; for a role that sees its own jobs alone, it is also
	// the name its calls to the master carry (see OwnJobsOnly).
	Name string
	Role Role
	// PublicKey is the user's public nkey, U followed by 55 characters.
	PublicKey string
	// Seed is the user's private seed, SU followed by 56 characters: a
	// secret, for nats.NkeyOptionFromSeed and --nkey.
	Seed []byte
}

// NewUser makes a user of role, named after it, with a fresh nkey.
func NewUser(role Role) (User, error) { return NewNamedUser(string(role), role) }

// NewNamedUser makes a user called name, of role, with a fresh nkey. A
// name is 1 to rpcq.MaxCallerLen letters, digits, '-' and '_'.
func NewNamedUser(name string, role Role) (User, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if !rpcq.ValidCaller(name) {
		return User{}, fmt.Errorf("auth: user name %q: want 1 to %d letters, digits, '-' and '_'", name, rpcq.MaxCallerLen)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return User{}, fmt.Errorf("auth: nkey: %w", err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return User{}, fmt.Errorf("auth: nkey: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return User{}, fmt.Errorf("auth: nkey: %w", err)
	}
	// A copy: Wipe overwrites the key pair's own.
	return User{Name: name, Role: role, PublicKey: pub, Seed: bytes.Clone(seed)}, nil
}

// seedFileContent is what u's seed file holds: its seed and, for a user
// that sees its own jobs alone, a first line naming it (see CallerIn).
// nats.go and the nats CLI read the seed and skip the comment.
func seedFileContent(u User) []byte {
	var b bytes.Buffer
	if u.Role.OwnJobsOnly() {
		fmt.Fprintf(&b, "%s%s\n", callerLinePrefix, u.Name)
	}
	b.Write(u.Seed)
	b.WriteByte('\n')
	return b.Bytes()
}

// callerLinePrefix starts the line of a seed file that names its user.
const callerLinePrefix = "# drover-as: "

// CallerIn returns the name a seed file written by Init gives its user,
// if it is one that sees its own jobs alone: drover --nkey FILE acts as
// that user without being told. A file without such a line, or with a
// name that cannot be one, gives "".
func CallerIn(seedFile []byte) string {
	for line := range bytes.Lines(seedFile) {
		if name, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte(callerLinePrefix)); ok && rpcq.ValidCaller(string(name)) {
			return string(name)
		}
	}
	return ""
}

var accountName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ServerConfig is a nats-server configuration of account, with JetStream
// enabled, and its users, each with the permissions of its role. It
// holds public keys only: no secret.
func ServerConfig(account string, users []User) ([]byte, error) {
	if !accountName.MatchString(account) || account == "$SYS" {
		return nil, fmt.Errorf("auth: account name %q: want letters, digits, _ and -", account)
	}
	var b bytes.Buffer
	b.WriteString(`# Drover's NATS users, one per role, each allowed exactly what its role's
# processes do. Written by drover auth init; 'drover auth roles' lists the
# grants. Include this file in a nats-server configuration, or run
# broker --config broker.conf beside it. Clients connect with --nkey <role>.nk
# and receive replies on _INBOX_<their public key>.> alone.
accounts {
`)
	fmt.Fprintf(&b, "  %s: {\n    jetstream: enabled\n    users: [\n", account)
	for _, u := range users {
		if _, err := nkeys.FromPublicKey(u.PublicKey); err != nil || !strings.HasPrefix(u.PublicKey, "U") {
			return nil, fmt.Errorf("auth: user %s: public key %q is not a user nkey", u.Name, u.PublicKey)
		}
		if !rpcq.ValidCaller(u.Name) {
			return nil, fmt.Errorf("auth: user name %q: want 1 to %d letters, digits, '-' and '_'", u.Name, rpcq.MaxCallerLen)
		}
		grants := Grants(u.Role)
		if grants == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownRole, u.Role)
		}
		if u.Name == string(u.Role) {
			fmt.Fprintf(&b, "      # %s may:\n", u.Role)
		} else {
			fmt.Fprintf(&b, "      # %s, a %s, may:\n", u.Name, u.Role)
		}
		for _, g := range grants {
			fmt.Fprintf(&b, "      #   %s\n", g.What)
		}
		fmt.Fprintf(&b, "      {\n        nkey: %s\n        permissions: {\n", u.PublicKey)
		p := UserPermissions(u)
		writeList(&b, "publish", p.Publish)
		writeList(&b, "subscribe", p.Subscribe)
		if p.Responses {
			fmt.Fprintf(&b, "          allow_responses: { max: %d, expires: %q }\n", MaxResponses, ResponseExpiry.String())
		}
		b.WriteString("        }\n      }\n")
	}
	b.WriteString("    ]\n  }\n}\n")
	return b.Bytes(), nil
}

// writeList writes a permission's allow list, one quoted subject a line:
// quoted, a subject starting with $ is not a variable.
func writeList(b *bytes.Buffer, name string, subjects []string) {
	fmt.Fprintf(b, "          %s: { allow: [\n", name)
	for _, s := range subjects {
		fmt.Fprintf(b, "            %s,\n", strconv.Quote(s))
	}
	b.WriteString("          ] }\n")
}

// BrokerConfig is a complete configuration around the AuthFile beside
// it: JetStream on, and room for task messages and object chunks.
func BrokerConfig() []byte {
	return []byte(`# Drover's broker, with the users of ` + AuthFile + ` and nobody else.
# Written by drover auth init. Run it with
#   broker --config broker.conf [--store DIR] [--tls-cert F --tls-key F --tls-ca F]
# or nats-server -c broker.conf -sd DIR.
# It serves this machine alone; to serve others, listen on their network
# (0.0.0.0:4222) with TLS, or give broker --listen.
listen: 127.0.0.1:4222
jetstream: enabled
max_payload: 8MB
include ` + strconv.Quote(AuthFile) + `
`)
}

// InitConfig says what Init writes.
type InitConfig struct {
	// Dir is the directory of the files; made, 0700, if missing. Required.
	Dir string
	// Account names the account (default DefaultAccount).
	Account string
	// Roles are the users to make, one per role and named after it
	// (default Roles()).
	Roles []Role
	// Users are more users, each with a name of its own: for example one
	// submitter per person or team, each of whom sees its own jobs alone.
	Users []UserSpec
	// Force overwrites files there are; without it, a file of Init's
	// already in Dir is an error wrapping ErrExists, and nothing is
	// written.
	Force bool
}

// UserSpec is a user for Init to make.
type UserSpec struct {
	Name string
	Role Role
}

// Init writes a deployment's credentials into cfg.Dir: AuthFile,
// BrokerFile, and a seed file per user (UserSeedFile), each readable by its
// owner alone (0600). It returns the paths it wrote, in that order.
func Init(cfg InitConfig) ([]string, error) {
	if cfg.Dir == "" {
		return nil, errors.New("auth: Dir is required")
	}
	if cfg.Account == "" {
		cfg.Account = DefaultAccount
	}
	if len(cfg.Roles) == 0 {
		cfg.Roles = Roles()
	}
	files := map[string][]byte{}
	names := []string{AuthFile, BrokerFile}
	specs := make([]UserSpec, 0, len(cfg.Roles)+len(cfg.Users))
	for _, role := range cfg.Roles {
		specs = append(specs, UserSpec{Name: string(role), Role: role})
	}
	specs = append(specs, cfg.Users...)
	users := make([]User, 0, len(specs))
	for _, spec := range specs {
		if slices.ContainsFunc(users, func(u User) bool { return u.Name == spec.Name }) {
			return nil, fmt.Errorf("auth: user %s given twice", spec.Name)
		}
		u, err := NewNamedUser(spec.Name, spec.Role)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
		names = append(names, UserSeedFile(u.Name))
		files[UserSeedFile(u.Name)] = seedFileContent(u)
	}
	conf, err := ServerConfig(cfg.Account, users)
	if err != nil {
		return nil, err
	}
	files[AuthFile], files[BrokerFile] = conf, BrokerConfig()

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if !cfg.Force {
		for _, name := range names {
			if _, err := os.Lstat(filepath.Join(cfg.Dir, name)); err == nil {
				return nil, fmt.Errorf("%w: %s", ErrExists, filepath.Join(cfg.Dir, name))
			}
		}
	}
	paths := make([]string, 0, len(names))
	for _, name := range names {
		path := filepath.Join(cfg.Dir, name)
		if err := writeFile(path, files[name], cfg.Force); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeFile writes data to path, 0600, through a temporary file put in
// place whole: a reader never sees half a file. With replace it is
// renamed over what is there (a link is replaced, never written through);
// without, it is linked there, which fails with ErrExists if path exists.
func writeFile(path string, data []byte, replace bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer os.Remove(tmp.Name()) // once renamed or linked, it has another name
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: %w", err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("auth: write %s: %w", path, err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return fmt.Errorf("auth: write %s: %w", path, err)
	}
	return nil
}
