// Package dashboard is Drover's web UI: the jobs, a job's tasks with every
// run of their attempts and its event timeline, the live workers, and the
// cluster's streams, as `drover ui` serves them.
//
// It is a pure core and a thin shell, as net/http/pprof is a small UI:
//
//   - Tasks rebuilds a job's tasks and runs from its stored events and
//     commit records, and Layout draws them as a timeline (a row per
//     worker slot, a bar per run); both are plain functions of their
//     inputs, with no clock and no I/O;
//   - Handler (New) renders the pages from what its Source answers, with
//     html/template files embedded in the binary, so that everything a
//     job carries is escaped; it keeps no state between requests beyond
//     the key of its cancel forms' tokens;
//   - JetStream (NewJetStream) is the Source of a running deployment: it
//     asks the master's control API for jobs, their status and cancels,
//     and reads a job's record, events and commits, the worker registry
//     and the streams' infos from JetStream.
//
// Use: NewJetStream on a connection, New with it as Config.Source, and
// serve the Handler with an http.Server; Close the JetStream when done.
// A test gives New a dashboardtest.Source instead.
//
// A job of thousands of tasks stays a page a browser draws in a fraction
// of a second: the timeline draws its bars as one SVG path per kind of
// bar rather than an element each, and the page's script shows the
// tooltip of the bar under the pointer from the timeline's JSON (without
// script, a path's title says what its bars are, and the task table
// lists the runs of the tasks run more than once); a task table is laid
// out only once scrolled near; pages are gzipped for a client that
// accepts it; the style and script are named by URLs that carry their
// fingerprints, so that a browser keeps them.
//
// Pages of running work update themselves by a small script that fetches
// the page again and swaps in its live part; without script, a meta
// refresh reloads them. A cancel is a POST that must carry the token of
// the job's page (an HMAC of the job's ID under Config.Secret), and
// cross-origin requests are refused (http.CrossOriginProtection). The
// dashboard has no login: whoever reaches it may see every job and cancel
// any, with the NATS rights of its connection.
//
// Handler and JetStream are safe for concurrent use.
package dashboard
