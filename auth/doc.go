// Package auth holds Drover's roles, the NATS permissions of each, and the
// writer of a broker configuration with one user per role.
//
// The bus is shared and a client on it may be hostile, so who may do what
// is decided by NATS itself: each process connects as a user whose
// permissions allow exactly the subjects, JetStream API calls included,
// that its role's work takes, and nothing else. A worker cannot publish a
// task, a submitter cannot write a commit record or serve rpcq.Time.Now,
// and only the exec-submitter role may call rpcq.Master.SubmitExec, the
// one method that accepts jobs running commands.
//
// Use it in one of three ways:
//
//   - Init writes a directory with everything a deployment needs: the
//     account and its users (AuthFile, for a nats-server include), a
//     complete BrokerFile for `broker --config`, and one nkey seed file
//     per role, <role>.nk, that the binaries take with --nkey. This is
//     what `drover auth init` does.
//   - ServerConfig writes the account and users for keys made elsewhere
//     (NewUser makes one).
//   - PermissionsOf and Grants give a role's subjects, for a
//     configuration written by other means, or to show them.
//
// Package authtest starts a broker with these users, for tests that
// check a component needs no more than its role.
//
// What permissions cannot do: they decide who may send on a subject,
// not what is sent. A user allowed to write objects may write any
// object, and a worker may acknowledge any task and write any commit
// record. Every process still checks and bounds what it receives.
//
// Replies: each user may subscribe to its own inboxes alone,
// InboxPrefix(its public key) followed by anything, and no user reads a
// reply meant for another. A client connecting with such a user must use
// that prefix (nats.CustomInboxPrefix); the binaries' --nkey does.
//
// The functions are safe for concurrent use; the slices they return are
// the caller's.
package auth
