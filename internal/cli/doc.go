// Package cli holds what every Drover binary shares: the NATS connection
// flags (named and read as the nats CLI does), the slog flags, and the
// signal-aware context that makes long-running binaries stop cleanly.
package cli
