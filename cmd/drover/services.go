package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/internal/token"
)

// Limits on what drover services reads and prints. Any responder on the
// account can answer $SRV requests, so a reply is never trusted to be
// small, few, well formed or printable.
const (
	// servicesTimeout is the default --timeout: how long the first reply
	// may take, and how long gathering may last in all.
	servicesTimeout = 2 * time.Second
	// replyGap ends gathering once no reply has come for this long, as
	// `nats micro ls` does: every instance answers at once.
	replyGap = 300 * time.Millisecond
	// maxReplies bounds the replies kept; gathering stops at it.
	maxReplies = 1000
	// maxReplyBytes bounds the bytes read, kept or not.
	maxReplyBytes = 32 << 20
	// maxEndpoints bounds the endpoints shown per instance.
	maxEndpoints = 256
	// maxMetadata bounds the metadata keys shown per map.
	maxMetadata = 32
	// maxField bounds the runes of any one value shown.
	maxField = 512
)

// servicesQuery is what drover services was asked: verb "ls", "info" or
// "stats", with an optional service name and instance ID.
type servicesQuery struct {
	verb     string
	name, id string
}

func runServices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("services", stderr, "[ls [NAME] | info NAME [ID] | stats NAME [ID]] [flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	timeout := fs.Duration("timeout", servicesTimeout, "how long to wait for replies; gathering ends "+replyGap.String()+" after the last")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	q, err := parseServicesQuery(pos)
	if err != nil {
		return err
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}

	// dial's error handler keeps a slow consumer off the terminal (gather
	// bounds what it buffers, and drops a flood of replies by design) and
	// ends ctx at a refused permission, which then explains what run saw.
	nc, err := dial(ctx, &conn, "drover services")
	if err != nil {
		return err
	}
	defer nc.Close()
	var out bytes.Buffer
	full, err := q.run(ctx, nc, *timeout, &out)
	if err != nil {
		return err
	}
	if full {
		fmt.Fprintf(stderr, "drover: stopped reading after %d replies or %d MiB; more may have answered\n", maxReplies, maxReplyBytes>>20)
	}
	_, err = stdout.Write(out.Bytes())
	return err
}

// run asks the services q names and writes what they answer to w; full
// reports that gathering stopped at a limit.
func (q servicesQuery) run(ctx context.Context, nc *nats.Conn, timeout time.Duration, w io.Writer) (full bool, err error) {
	if q.verb == "stats" {
		subject, err := micro.ControlSubject(micro.StatsVerb, q.name, q.id)
		if err != nil {
			return false, err
		}
		stats, full, err := gather(ctx, nc, subject, timeout, decodeReply[micro.Stats](micro.StatsResponseType, q))
		if err != nil {
			return false, err
		}
		if len(stats) == 0 {
			return full, fmt.Errorf("no service %s answers", q.name)
		}
		printStats(w, instances(stats, func(s micro.Stats) micro.ServiceIdentity { return s.ServiceIdentity }))
		return full, nil
	}
	subject, err := micro.ControlSubject(micro.InfoVerb, q.name, q.id)
	if err != nil {
		return false, err
	}
	infos, full, err := gather(ctx, nc, subject, timeout, decodeReply[micro.Info](micro.InfoResponseType, q))
	if err != nil {
		return false, err
	}
	infos = instances(infos, func(i micro.Info) micro.ServiceIdentity { return i.ServiceIdentity })
	switch {
	case q.verb == "ls":
		printList(w, q.name, infos)
	case len(infos) == 0:
		return full, fmt.Errorf("no service %s answers", q.name)
	default:
		printInfo(w, infos)
	}
	return full, nil
}

// parseServicesQuery reads the positional arguments of drover services.
func parseServicesQuery(pos []string) (servicesQuery, error) {
	if len(pos) == 0 {
		return servicesQuery{verb: "ls"}, nil
	}
	q := servicesQuery{verb: pos[0]}
	args := pos[1:]
	switch q.verb {
	case "ls", "list":
		q.verb = "ls"
		if len(args) > 1 {
			return q, usagef("services ls takes at most a service NAME")
		}
	case "info", "stats":
		if len(args) < 1 || len(args) > 2 {
			return q, usagef("services %s takes a service NAME and at most an instance ID", q.verb)
		}
	default:
		return q, usagef("unknown services command %q: want ls, info or stats", q.verb)
	}
	if len(args) > 0 {
		q.name = args[0]
	}
	if len(args) > 1 {
		q.id = args[1]
	}
	for _, s := range []string{q.name, q.id} {
		if s != "" && !token.Valid(s) {
			return q, usagef("%q is not a service name or ID: want letters, digits, '-' and '_'", s)
		}
	}
	return q, nil
}

// gather publishes an empty request on subject and returns the replies
// decode keeps. It waits up to timeout in all, and stops replyGap after
// the latest reply, kept or not (the broker's "no responders" status
// counts: it comes when nothing listens). It stops early, with full set,
// after maxReplies kept replies or maxReplyBytes read; full is also set
// when replies came faster than it read and some were dropped. A reply
// it cannot keep is skipped; only ctx ending, or a connection failure,
// is an error.
func gather[T any](ctx context.Context, nc *nats.Conn, subject string, timeout time.Duration, decode func([]byte) (T, bool)) (kept []T, full bool, err error) {
	sub, err := nc.SubscribeSync(nc.NewRespInbox())
	if err != nil {
		return nil, false, err
	}
	defer sub.Unsubscribe()
	// What arrives faster than it is read is dropped by the client, not
	// buffered without bound.
	if err := sub.SetPendingLimits(maxReplies, maxReplyBytes); err != nil {
		return nil, false, err
	}
	if err := nc.PublishRequest(subject, sub.Subject, nil); err != nil {
		return nil, false, fmt.Errorf("request %s: %w", subject, err)
	}
	all, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait, read, dropped := timeout, 0, false
	for {
		if len(kept) >= maxReplies || read >= maxReplyBytes {
			return kept, true, nil
		}
		next, cancelNext := context.WithTimeout(all, wait)
		m, err := sub.NextMsgWithContext(next)
		cancelNext()
		switch {
		case errors.Is(err, nats.ErrSlowConsumer):
			dropped = true // some replies were dropped; read on
			continue
		case errors.Is(err, nats.ErrNoResponders):
			wait = replyGap // nothing listens; or a responder says so, and others may still answer
			continue
		case err != nil && ctx.Err() != nil:
			return nil, false, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			return kept, dropped, nil
		case err != nil:
			return nil, false, fmt.Errorf("read replies to %s: %w", subject, err)
		}
		wait = replyGap
		read += m.Size()
		if v, ok := decode(m.Data); ok {
			kept = append(kept, v)
		}
	}
}

// decodeReply returns a decoder of replies of type typ (micro.Info or
// micro.Stats) that keeps those of the service and instance q names (any,
// if it names none). A reply that is not JSON of that type, or whose name
// or ID is not a subject token (micro allows no other), is dropped.
func decodeReply[T any](typ string, q servicesQuery) func([]byte) (T, bool) {
	return func(data []byte) (T, bool) {
		var v T
		var head struct {
			micro.ServiceIdentity
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &head) != nil || head.Type != typ || !q.matches(head.ServiceIdentity) {
			return v, false
		}
		return v, json.Unmarshal(data, &v) == nil
	}
}

// matches reports whether id is a well-formed identity of the service and
// instance q names.
func (q servicesQuery) matches(id micro.ServiceIdentity) bool {
	return token.Valid(id.Name) && token.Valid(id.ID) &&
		(q.name == "" || id.Name == q.name) && (q.id == "" || id.ID == q.id)
}

// instances sorts replies by service name, then instance ID, and keeps
// the first reply of each instance.
func instances[T any](replies []T, ident func(T) micro.ServiceIdentity) []T {
	slices.SortStableFunc(replies, func(a, b T) int {
		x, y := ident(a), ident(b)
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	return slices.CompactFunc(replies, func(a, b T) bool {
		x, y := ident(a), ident(b)
		return x.Name == y.Name && x.ID == y.ID
	})
}

// printList writes one row per instance, as `nats micro ls` does: a
// service's name, and a version or description equal to the row above,
// are left blank.
//
//	NAME       ID                      VERSION  DESCRIPTION
//	WordCount  5NC6b1Lx3yhGdwQDjOYkY3  1.0.0    Counts whitespace-separated words
//	           5NC6b1Lx3yhGdwQDjOYkZ8
func printList(w io.Writer, name string, infos []micro.Info) {
	if len(infos) == 0 {
		if name != "" {
			fmt.Fprintf(w, "no services named %s\n", name)
		} else {
			fmt.Fprintln(w, "no services")
		}
		return
	}
	t := newTable(w)
	t.row("NAME", "ID", "VERSION", "DESCRIPTION")
	var prev micro.Info
	for _, in := range infos {
		n, v, d := in.Name, clean(in.Version), clean(in.Description)
		if in.Name == prev.Name {
			n = ""
			if in.Version == prev.Version {
				v = ""
			}
			if in.Description == prev.Description {
				d = ""
			}
		}
		t.row(n, in.ID, v, d)
		prev = in
	}
	t.flush()
}

// printInfo writes what the first instance says of its service, then
// every instance's endpoints:
//
//	Service      KV
//	Version      1.0.0
//	Description  ...
//	Metadata     rpcq.methods=Append,Get,Put
//	Instances    4
//
//	ID                      ENDPOINT  SUBJECT         QUEUE GROUP  METADATA
//	5NC6b1Lx3yhGdwQDjOYkY3  Append    rpcq.KV.Append  q            rpcq.mode=exactly-once
//	                        Get       rpcq.KV.Get     q            rpcq.mode=read-only
//
// Versions are all listed: instances of a service in a rolling upgrade
// differ there.
func printInfo(w io.Writer, infos []micro.Info) {
	first := infos[0]
	var versions []string
	for _, in := range infos {
		versions = append(versions, clean(in.Version))
	}
	slices.Sort(versions)
	t := newTable(w)
	t.row("Service", first.Name)
	t.row("Version", strings.Join(slices.Compact(versions), ", "))
	t.row("Description", clean(first.Description))
	label := "Metadata"
	for _, kv := range metadataLines(first.Metadata) {
		t.row(label, kv)
		label = ""
	}
	t.row("Instances", fmt.Sprint(len(infos)))
	t.flush()
	fmt.Fprintln(w)

	t = newTable(w)
	t.row("ID", "ENDPOINT", "SUBJECT", "QUEUE GROUP", "METADATA")
	for _, in := range infos {
		id := in.ID
		eps, more := capped(in.Endpoints, maxEndpoints)
		for _, ep := range eps {
			t.row(id, clean(ep.Name), clean(ep.Subject), clean(ep.QueueGroup), clean(strings.Join(metadataLines(ep.Metadata), ", ")))
			id = ""
		}
		if len(eps) == 0 {
			t.row(id, "(none)")
		}
		if more > 0 {
			t.row("", fmt.Sprintf("(%d more)", more))
		}
	}
	t.flush()
}

// printStats writes each instance's endpoint counts with their totals, as
// `nats micro stats` does, then the endpoints' data (rpcq's duplicate
// table counts): once per instance when all its endpoints report the
// same, as rpcq's do.
//
//	ID                      ENDPOINT  REQUESTS  ERRORS  PROCESSING TIME  AVERAGE TIME  LAST ERROR
//	5NC6b1Lx3yhGdwQDjOYkY3  Append    3         0       1.2ms            400µs
//	TOTAL                             3         0       1.2ms            400µs
//
//	ID                      ENDPOINT  DATA
//	5NC6b1Lx3yhGdwQDjOYkY3  (all)     {"executions":3,...}
func printStats(w io.Writer, stats []micro.Stats) {
	t := newTable(w)
	t.row("ID", "ENDPOINT", "REQUESTS", "ERRORS", "PROCESSING TIME", "AVERAGE TIME", "LAST ERROR")
	var requests, errs int
	var total time.Duration
	for _, s := range stats {
		id := s.ID
		eps, more := capped(s.Endpoints, maxEndpoints)
		for _, ep := range eps {
			if ep == nil {
				continue
			}
			t.row(id, clean(ep.Name), fmt.Sprint(ep.NumRequests), fmt.Sprint(ep.NumErrors),
				duration(ep.ProcessingTime), duration(ep.AverageProcessingTime), clean(ep.LastError))
			id = ""
			requests += ep.NumRequests
			errs += ep.NumErrors
			total += ep.ProcessingTime
		}
		if id != "" {
			t.row(id, "(none)")
		}
		if more > 0 {
			t.row("", fmt.Sprintf("(%d more)", more))
		}
	}
	var avg time.Duration
	if requests > 0 {
		avg = total / time.Duration(requests)
	}
	t.row("TOTAL", "", fmt.Sprint(requests), fmt.Sprint(errs), duration(total), duration(avg), "")
	t.flush()

	var data [][3]string
	for _, s := range stats {
		eps, _ := capped(s.Endpoints, maxEndpoints)
		eps = slices.DeleteFunc(slices.Clone(eps), func(ep *micro.EndpointStats) bool { return ep == nil || len(ep.Data) == 0 })
		shared := len(eps) > 0 && !slices.ContainsFunc(eps, func(ep *micro.EndpointStats) bool { return !bytes.Equal(ep.Data, eps[0].Data) })
		if shared && len(eps) == len(s.Endpoints) {
			data = append(data, [3]string{s.ID, "(all)", compactJSON(eps[0].Data)})
			continue
		}
		for _, ep := range eps {
			data = append(data, [3]string{s.ID, clean(ep.Name), compactJSON(ep.Data)})
		}
	}
	if len(data) == 0 {
		return
	}
	fmt.Fprintln(w)
	t = newTable(w)
	t.row("ID", "ENDPOINT", "DATA")
	prev := ""
	for _, d := range data {
		id := d[0]
		if id == prev {
			id = ""
		}
		t.row(id, d[1], d[2])
		prev = d[0]
	}
	t.flush()
}

// metadataLines is m as sorted key=value strings, at most maxMetadata of
// them and a count of the rest.
func metadataLines(m map[string]string) []string {
	keys, more := capped(slices.Sorted(maps.Keys(m)), maxMetadata)
	var out []string
	for _, k := range keys {
		out = append(out, clean(k)+"="+clean(m[k]))
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("(%d more)", more))
	}
	return out
}

// capped is the first n of s and how many it leaves out.
func capped[T any](s []T, n int) ([]T, int) {
	if len(s) <= n {
		return s, 0
	}
	return s[:n], len(s) - n
}

// compactJSON is valid JSON on one line, made printable.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return clean(string(raw))
	}
	return clean(b.String())
}

// duration rounds d for a table: microseconds, or milliseconds past a second.
func duration(d time.Duration) string {
	if d.Abs() >= time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// clean makes a string from the bus fit one table cell: every rune that
// is not printable (tabs, newlines, terminal escapes, bidi controls) is
// shown as '?', and it is cut to maxField runes.
func clean(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxField {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// table is a tabwriter whose lines carry no trailing blanks.
type table struct {
	out io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer) *table {
	t := &table{out: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 4, 2, ' ', 0)
	return t
}

// row writes one line; cells hold no tab or newline (see clean).
func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() {
	t.tw.Flush()
	for line := range strings.Lines(t.buf.String()) {
		fmt.Fprintln(t.out, strings.TrimRight(line, " \n"))
	}
	t.buf.Reset()
}
