// Package broker runs an embedded NATS server with JetStream.
//
// Start it with a Config, use ClientURL or Connect to reach it, and Close it:
//
//	b, err := broker.Start(ctx, broker.Config{Port: broker.RandomPort, StoreDir: dir})
//	nc, err := b.Connect()
//	...
//	nc.Drain()
//	b.Close()
//
// Start returns only when the server accepts connections and passes its
// own health check, JetStream included. It asks the server itself, never
// a client connection, so that any authorization a stock nats-server
// accepts works: a config file (Config.ConfigFile) with a token, users
// with permissions, nkeys, or accounts with JetStream enabled per
// account; TLS with client certificates (Config.TLSCert, TLSKey, TLSCA).
// Connect carries only Config's User, Password and Token; pass any other
// credentials to it as options.
//
// One node of a JetStream cluster takes the same Config with ClusterName,
// ClusterPort and Routes (every node the same name and routes, its own
// ServerName and store). Start waits as long as its ctx lasts for a
// quorum of the nodes to be up and for a JetStream meta leader, logging
// what it waits for; a single server keeps DefaultStartTimeout when ctx
// has no deadline. SyncInterval and SyncAlways set how often JetStream
// fsyncs its store.
//
// A server that cannot start (a port in use, a store directory that is
// not a directory, a bad configuration file) is an error, never a
// process exit: the server logs through slog, and its fatal messages
// become Start's error. A Broker is safe for concurrent use.
package broker
