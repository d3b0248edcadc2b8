// Package timesvc synchronises clocks over rpcq with Cristian's algorithm,
// and says how far off the result can be.
//
// # The algorithm
//
// The client stamps T1 and sends a request; the server stamps T2 when it
// arrives and T3 when the reply leaves; the client stamps T4 when the reply
// arrives. Then
//
//	RTT    = (T4 − T1) − (T3 − T2)   the time spent travelling
//	Offset = T3 + RTT/2 − T4         the server's clock minus the local one
//
// and, because neither one-way delay can be negative, the true offset lies
// within Offset ± RTT/2 whatever the network did: the error is half the
// difference of the two delays. Sample, Estimate and Best are this
// arithmetic as plain functions of the four stamps.
//
// # Serving
//
// One process serves the time (in Drover, the master). Serve starts the
// rpcq service Time with its read-only method Now on subject rpcq.Time.Now;
// shut it down and then close the connection:
//
//	srv, err := timesvc.Serve(nc, timesvc.Config{})
//	defer srv.Shutdown(ctx)
//
// From a shell, the nats CLI shows the stamps as JSON:
//
//	nats request rpcq.Time.Now ''
//
// # Asking the time
//
// SyncTime is the lecture's exercise: one sample, and the time the local
// clock should be set to. Measure takes n samples through an rpcq.Client
// and returns the Estimate of the one with the smallest RTT, with its
// bound; it is what `drover time` prints:
//
//	t, err := timesvc.SyncTime(ctx, nc)
//	est, err := timesvc.Measure(ctx, client, 8, time.Now) // est.Offset ± est.Bound
//
// # Keeping the time
//
// A Clock keeps the server's time between syncs. Make it on a client you
// own, run it, and read it from any goroutine:
//
//	clock, err := timesvc.NewClock(client, timesvc.ClockConfig{})
//	err = clock.Sync(ctx) // optional: wait for a first estimate
//	go clock.Run(ctx)     // resyncs every Interval until ctx ends
//	now, bound := clock.Now(), clock.Bound()
//
// Now never goes backwards once the Clock has synced. Bound grows with
// the time since the last good sync, by MaxDrift, so while the server is
// unreachable the Clock keeps answering and says how much less it knows.
// Close the client only after Run has returned.
//
// All functions are safe for concurrent use, and so are a Clock's methods.
package timesvc
