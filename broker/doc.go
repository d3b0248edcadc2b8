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
// Start returns only when the server accepts connections and JetStream
// answers an API call; a server that cannot start (a port in use, a store
// directory that is not a directory, a bad configuration file) is an error,
// never a process exit: the server logs through slog, and its fatal
// messages become Start's error. A Broker is safe for concurrent use.
package broker
