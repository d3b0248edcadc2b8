package auth

import (
	"bytes"
	"fmt"

	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/rpcq"
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
