// Package metrics holds the Prometheus collectors that Drover's binaries
// share, and the HTTP handler that serves them.
//
// Each binary makes one registry (NewRegistry), hands it to the parts
// that count (NewMaster for the master's shell, NewWorker for a worker,
// NewClock for a timesvc.Clock, rpcq.ServerConfig.Metrics for an rpcq
// server), and, given --metrics ADDR, serves it on /metrics (Listen,
// Serve). Every metric is named drover_..., in base units (seconds,
// counts), counters end in _total.
//
// The counting lives in the shells, never in a pure core: master.Core
// stays a function of its events, and the master's shell counts from the
// events it feeds it and the actions it carries out. A process counts
// what it sees in its life: a master that starts, or takes over, counts
// again what it replays to rebuild its state.
//
// Labels take only values from a closed set (phases, reply codes, outcomes,
// states, registered apps and methods), never a name a message carried,
// so that no message on the bus can grow a registry.
package metrics
