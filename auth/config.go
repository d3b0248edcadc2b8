package auth

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/rpcq"
)

var accountName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Account is a NATS account of Drover's users. What happens in one
// account, its streams, its subjects and the jobs and tasks in them, is out
// of every other account's reach.
type Account struct {
	Name  string
	Users []User
}

// ServerConfig is a nats-server configuration of accounts, each with
// JetStream enabled, and their users, each with the permissions of its
// role. It holds public keys only: no secret.
func ServerConfig(accounts ...Account) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`# Drover's NATS users, one per role, each allowed exactly what its role's
# processes do. Written by drover auth init; 'drover auth roles' lists the
# grants. Include this file in a nats-server configuration, or run
# broker --config broker.conf beside it. Clients connect with --nkey <role>.nk
# and receive replies on _INBOX_<their public key>.> alone.
accounts {
`)
	for _, a := range accounts {
		if err := writeAccount(&b, a); err != nil {
			return nil, err
		}
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// writeAccount writes account a's block of a configuration.
func writeAccount(b *bytes.Buffer, a Account) error {
	if !accountName.MatchString(a.Name) || a.Name == "$SYS" {
		return fmt.Errorf("auth: account name %q: want letters, digits, _ and -", a.Name)
	}
	fmt.Fprintf(b, "  %s: {\n    jetstream: enabled\n    users: [\n", a.Name)
	for _, u := range a.Users {
		if _, err := nkeys.FromPublicKey(u.PublicKey); err != nil || !strings.HasPrefix(u.PublicKey, "U") {
			return fmt.Errorf("auth: user %s: public key %q is not a user nkey", u.Name, u.PublicKey)
		}
		if !rpcq.ValidCaller(u.Name) {
			return fmt.Errorf("auth: user name %q: want 1 to %d letters, digits, '-' and '_'", u.Name, rpcq.MaxCallerLen)
		}
		grants := Grants(u.Role)
		if grants == nil {
			return fmt.Errorf("%w %q", ErrUnknownRole, u.Role)
		}
		if u.Name == string(u.Role) {
			fmt.Fprintf(b, "      # %s may:\n", u.Role)
		} else {
			fmt.Fprintf(b, "      # %s, a %s, may:\n", u.Name, u.Role)
		}
		for _, g := range grants {
			fmt.Fprintf(b, "      #   %s\n", g.What)
		}
		fmt.Fprintf(b, "      {\n        nkey: %s\n        permissions: {\n", u.PublicKey)
		p := UserPermissions(u)
		writeList(b, "publish", p.Publish)
		writeList(b, "subscribe", p.Subscribe)
		if p.Responses {
			fmt.Fprintf(b, "          allow_responses: { max: %d, expires: %q }\n", MaxResponses, ResponseExpiry.String())
		}
		b.WriteString("        }\n      }\n")
	}
	b.WriteString("    ]\n  }\n")
	return nil
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
