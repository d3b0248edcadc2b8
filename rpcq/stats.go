package rpcq

import (
	"runtime"
	"time"
)

// Stats is what a server reports beyond micro's per-endpoint counts; it is
// the `data` of every endpoint in `nats micro stats`.
type Stats struct {
	Executions int64  `json:"executions"`    // calls the duplicate table let run
	Duplicates int64  `json:"duplicates"`    // duplicates answered with a saved reply
	Stale      int64  `json:"stale"`         // requests refused as stale
	Forgotten  int64  `json:"forgotten"`     // duplicates of claimed calls whose reply had expired
	Clients    int    `json:"table_clients"` // clients the table remembers
	Entries    int    `json:"table_entries"` // calls the table remembers
	HeapInUse  uint64 `json:"heap_inuse"`    // bytes of heap in use in this process
}

// statser is a duplicate table that counts.
type statser interface{ Stats() TableStats }

// expirer is a duplicate table that forgets idle clients when told.
type expirer interface{ Expire(now time.Time) int }

// Stats returns the server's counts. A table that does not count reports
// zeros.
func (s *Server) Stats() Stats {
	var st Stats
	if t, ok := s.table.(statser); ok {
		ts := t.Stats()
		st = Stats{Executions: ts.Executions, Duplicates: ts.Duplicates, Stale: ts.Stale, Forgotten: ts.Forgotten, Clients: ts.Clients, Entries: ts.Entries}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st.HeapInUse = m.HeapInuse
	return st
}

// expireClients has the table forget idle clients until the server stops.
func (s *Server) expireClients(t expirer) {
	tick := time.NewTicker(max(s.cfg.ClientLease/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.base.Done():
			return
		case now := <-tick.C:
			t.Expire(now)
		}
	}
}
