package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/rpcq"
)

// serveKV serves the KV example on b with n instances.
func serveKV(t *testing.T, b *brokertest.Server, n int) {
	t.Helper()
	s, err := kv.Open(t.TempDir(), kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := s.Serve(b.Connect(), rpcq.ExactlyOnce, rpcq.ServerConfig{
		Version: "1.2.3", Description: "Keys and values", Concurrency: n, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		s.Close()
	})
}

// columns splits the rows of a table printed by drover services into
// cells: runs of two spaces or more separate them.
func columns(line string) []string { return regexp.MustCompile(`  +`).Split(line, -1) }

func TestServices(t *testing.T) {
	b := brokertest.Start(t)
	serveKV(t, b, 2)
	serveSum(t, b) // Calc, DefaultConcurrency instances
	url := b.ClientURL()

	code, out, errOut := drover(t, "services", "--nats", url)
	if code != 0 {
		t.Fatalf("drover services: exit %d, stderr %q", code, errOut)
	}
	t.Logf("drover services:\n%s", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if got, want := columns(lines[0]), []string{"NAME", "ID", "VERSION", "DESCRIPTION"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("header = %q, want %q", got, want)
	}
	if len(lines) != 1+rpcq.DefaultConcurrency+2 {
		t.Fatalf("drover services printed %d lines, want a header and %d instances:\n%s", len(lines), rpcq.DefaultConcurrency+2, out)
	}
	if c := columns(lines[1]); len(c) != 3 || c[0] != "Calc" || c[2] != rpcq.DefaultVersion {
		t.Errorf("first row = %q, want Calc, an ID and %s", c, rpcq.DefaultVersion)
	}
	kvRow := columns(lines[1+rpcq.DefaultConcurrency])
	if len(kvRow) != 4 || kvRow[0] != "KV" || kvRow[2] != "1.2.3" || kvRow[3] != "Keys and values" {
		t.Errorf("first KV row = %q, want KV, an ID, 1.2.3 and its description", kvRow)
	}
	if c := columns(strings.TrimSpace(lines[len(lines)-1])); len(c) != 1 {
		t.Errorf("second KV row = %q, want its ID alone", lines[len(lines)-1])
	}

	code, out, _ = drover(t, "services", "ls", "KV", "--nats", url)
	if n := strings.Count(out, "\n"); code != 0 || n != 3 {
		t.Errorf("drover services ls KV: exit %d, %d lines, want a header and 2 instances:\n%s", code, n, out)
	}

	code, out, errOut = drover(t, "services", "info", "KV", "--nats", url)
	if code != 0 {
		t.Fatalf("drover services info KV: exit %d, stderr %q", code, errOut)
	}
	t.Logf("drover services info KV:\n%s", out)
	for _, want := range []string{
		"Service      KV\n", "Version      1.2.3\n", "Description  Keys and values\n",
		"Metadata     rpcq.methods=Append,Get,Put\n", "Instances    2\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	wantEndpoints := map[string]string{"Append": "exactly-once", "Get": "read-only", "Put": "exactly-once"}
	rows := 0
	for line := range strings.Lines(out) {
		c := columns(strings.TrimSpace(line))
		if _, ok := wantEndpoints[c[0]]; ok && len(c) == 4 {
			c = append([]string{""}, c...) // the instance's later rows leave its ID blank
		}
		if len(c) != 5 {
			continue
		}
		if mode, ok := wantEndpoints[c[1]]; ok {
			rows++
			if want := []string{"rpcq.KV." + c[1], "q", "rpcq.mode=" + mode}; strings.Join(c[2:], "|") != strings.Join(want, "|") {
				t.Errorf("endpoint row %q, want %q", c, want)
			}
		}
	}
	if rows != 6 {
		t.Errorf("info shows %d endpoint rows, want 3 for each of 2 instances:\n%s", rows, out)
	}

	client, err := kv.NewClient(b.Connect(), rpcq.ExactlyOnce, rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for range 3 {
		if _, err := client.Append(context.Background(), "k", "x"); err != nil {
			t.Fatal(err)
		}
	}
	// micro counts a request once its handler has returned, which may be
	// after the caller has its reply: ask until the third is counted.
	var total []string
	brokertest.WaitFor(t, 10*time.Second, func() bool {
		code, out, errOut = drover(t, "services", "stats", "KV", "--nats", url)
		if code != 0 {
			t.Fatalf("drover services stats KV: exit %d, stderr %q", code, errOut)
		}
		total = nil
		for line := range strings.Lines(out) {
			if c := columns(strings.TrimSpace(line)); c[0] == "TOTAL" {
				total = c
			}
		}
		return len(total) >= 5 && total[1] == "3"
	}, "drover services stats KV to count 3 requests")
	t.Logf("drover services stats KV:\n%s", out)
	var data []json.RawMessage
	for line := range strings.Lines(out) {
		c := columns(strings.TrimSpace(line))
		switch {
		case len(c) == 3 && strings.HasPrefix(c[2], "{"): // an instance's first row
			data = append(data, json.RawMessage(c[2]))
		case len(c) == 2 && strings.HasPrefix(c[1], "{"):
			data = append(data, json.RawMessage(c[1]))
		}
	}
	if len(total) < 5 || total[1] != "3" || total[2] != "0" {
		t.Errorf("total row = %q, want 3 requests and 0 errors", total)
	}
	// One row per instance, "(all)" of its endpoints, or one per endpoint
	// where their data differ (rpcq's heap_inuse is read for each).
	if len(data) < 2 || len(data) > 6 {
		t.Fatalf("stats shows %d data rows, want one per instance or endpoint:\n%s", len(data), out)
	}
	for _, d := range data {
		var st rpcq.Stats
		if err := json.Unmarshal(d, &st); err != nil || st.Executions != 3 || st.Clients != 1 {
			t.Errorf("data %s = %+v, %v; want 3 executions of 1 client", d, st, err)
		}
	}
}

func TestServicesNone(t *testing.T) {
	b := brokertest.Start(t)
	url := b.ClientURL()
	tests := []struct {
		args       []string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{[]string{"services", "--nats", url}, 0, "no services\n", ""},
		{[]string{"services", "list", "KV", "--nats", url}, 0, "no services named KV\n", ""},
		{[]string{"services", "info", "KV", "--nats", url}, 1, "", "drover: no service KV answers\n"},
		{[]string{"services", "stats", "KV", "abc", "--nats", url}, 1, "", "drover: no service KV answers\n"},
		{[]string{"services", "info"}, 2, "", "takes a service NAME"},
		{[]string{"services", "stats", "KV", "a", "b"}, 2, "", "takes a service NAME"},
		{[]string{"services", "ls", "a", "b"}, 2, "", "at most a service NAME"},
		{[]string{"services", "info", "rpcq.>"}, 2, "", "not a service name"},
		{[]string{"services", "ping"}, 2, "", `unknown services command "ping"`},
		{[]string{"services", "--timeout", "0s"}, 2, "", "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:min(3, len(tt.args))], " "), func(t *testing.T) {
			start := time.Now()
			code, out, errOut := drover(t, tt.args...)
			if code != tt.wantCode || out != tt.wantOut || !strings.Contains(errOut, tt.wantStderr) {
				t.Errorf("drover %q = exit %d, stdout %q, stderr %q; want %d, %q, stderr with %q",
					tt.args, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantStderr)
			}
			// Nothing listens: the broker says so at once, and only
			// the gap after a reply is waited.
			if took := time.Since(start); took > servicesTimeout {
				t.Errorf("drover %q took %v, want less than the %v timeout", tt.args, took, servicesTimeout)
			}
		})
	}
}

// respond answers every request on subject with each of replies.
func respond(t *testing.T, nc *nats.Conn, subject string, replies ...[]byte) {
	t.Helper()
	_, err := nc.Subscribe(subject, func(m *nats.Msg) {
		for _, r := range replies {
			nc.Publish(m.Reply, r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestServicesHostile: whatever answers on $SRV, drover services lists the
// real services, drops what does not decode, prints nothing that is not
// printable, and ends in time.
func TestServicesHostile(t *testing.T) {
	b := brokertest.Start(t)
	serveKV(t, b, 1)
	url := b.ClientURL()

	nasty := "\x1b[2J\x1b]0;pwned\x07line\nbreak\ttab\u202eevil" + strings.Repeat("x", maxField)
	many := make([]micro.EndpointInfo, maxEndpoints+44)
	for i := range many {
		many[i] = micro.EndpointInfo{Name: nasty, Subject: nasty, Metadata: map[string]string{nasty: nasty}}
	}
	fake := micro.Info{
		ServiceIdentity: micro.ServiceIdentity{Name: "Fake", ID: "fake1", Version: nasty, Metadata: map[string]string{nasty: nasty}},
		Type:            micro.InfoResponseType, Description: nasty, Endpoints: many,
	}
	badName := fake
	badName.Name = "a.b\x1b"
	noID := fake
	noID.ID = ""
	wrongType := fake
	wrongType.Type = micro.PingResponseType
	stats := micro.Stats{
		ServiceIdentity: fake.ServiceIdentity, Type: micro.StatsResponseType,
		Endpoints: []*micro.EndpointStats{nil, {Name: nasty, NumRequests: -5, LastError: nasty, ProcessingTime: -1, Data: json.RawMessage(`{"a":"` + strings.Repeat("\\u001b", 1000) + `"}`)}},
	}
	garbage := [][]byte{
		nil, []byte("null"), []byte("[]"), []byte("\xff\xfe{"), []byte(`{"type":`),
		[]byte(strings.Repeat("[", 100000)), []byte(`{"type":"io.nats.micro.v1.info_response","name":"Fake","id":"fake2","endpoints":"no"}`),
		[]byte(`{"type":"io.nats.micro.v1.stats_response","name":"Fake","id":"fake2","started":"yesterday"}`),
		mustJSON(t, badName), mustJSON(t, noID), mustJSON(t, wrongType),
	}
	hostile := b.Connect()
	respond(t, hostile, "$SRV.INFO", append(garbage, mustJSON(t, fake), mustJSON(t, fake))...)
	respond(t, hostile, "$SRV.INFO.Fake", append(garbage, mustJSON(t, fake))...)
	respond(t, hostile, "$SRV.STATS.Fake", append(garbage, mustJSON(t, stats))...)

	check := func(args []string, wantLines ...string) string {
		t.Helper()
		code, out, errOut := drover(t, append(args, "--nats", url)...)
		if code != 0 {
			t.Fatalf("drover %q: exit %d, stderr %q", args, code, errOut)
		}
		for _, r := range out {
			if !unicode.IsPrint(r) && r != '\n' {
				t.Fatalf("drover %q printed %q:\n%q", args, r, out)
			}
		}
		for line := range strings.Lines(out) {
			if n := len([]rune(line)); n > 8*maxField {
				t.Fatalf("drover %q printed a line of %d runes", args, n)
			}
		}
		for _, want := range wantLines {
			if !regexp.MustCompile(`(?m)` + want).MatchString(out) {
				t.Errorf("drover %q output has no line matching %q:\n%.2000s", args, want, out)
			}
		}
		return out
	}

	out := check([]string{"services"}, `^Fake +fake1 +\?\[2J\?\]0;pwned\?line\?break\?tab\?evilx+… +\?\[2J`, `^KV +\w+ +1\.2\.3 +Keys and values$`)
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("drover services printed %d lines, want a header, Fake once and KV:\n%.2000s", n, out)
	}
	out = check([]string{"services", "info", "Fake"}, `^Instances +1$`, `^ +\(44 more\)$`)
	if n := strings.Count(out, "\n"); n > 300+maxMetadata {
		t.Errorf("drover services info Fake printed %d lines", n)
	}
	check([]string{"services", "stats", "Fake"}, `^TOTAL +-5 +0 +0s +0s$`, `^fake1 +\?\[2J.* +\{"a":"\\u001b`)
}

// TestServicesFlood: a responder that answers without end is read up to
// the limits, and drover services still ends.
func TestServicesFlood(t *testing.T) {
	b := brokertest.Start(t)
	nc := b.Connect()
	_, err := nc.Subscribe("$SRV.INFO", func(m *nats.Msg) {
		for i := 0; i < 2*maxReplies && !nc.IsClosed(); i++ {
			nc.Publish(m.Reply, fmt.Appendf(nil, `{"type":%q,"name":"Flood","id":"f%d"}`, micro.InfoResponseType, i))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	code, out, errOut := drover(t, "services", "--nats", b.ClientURL())
	if code != 0 {
		t.Fatalf("drover services: exit %d, stderr %q", code, errOut)
	}
	if n := strings.Count(out, "\n"); n > 1+maxReplies {
		t.Errorf("drover services printed %d lines, want at most %d", n, 1+maxReplies)
	}
	if !strings.Contains(errOut, "stopped reading after") {
		t.Errorf("stderr = %q, want a note that more may have answered", errOut)
	}
}

func TestParseServicesQuery(t *testing.T) {
	tests := []struct {
		pos  []string
		want servicesQuery
	}{
		{nil, servicesQuery{verb: "ls"}},
		{[]string{"list"}, servicesQuery{verb: "ls"}},
		{[]string{"ls", "KV"}, servicesQuery{verb: "ls", name: "KV"}},
		{[]string{"info", "KV"}, servicesQuery{verb: "info", name: "KV"}},
		{[]string{"stats", "KV", "id1"}, servicesQuery{verb: "stats", name: "KV", id: "id1"}},
	}
	for _, tt := range tests {
		if got, err := parseServicesQuery(tt.pos); err != nil || got != tt.want {
			t.Errorf("parseServicesQuery(%q) = %+v, %v; want %+v", tt.pos, got, err, tt.want)
		}
	}
	for _, bad := range [][]string{{"ping"}, {"info"}, {"info", "a.b"}, {"stats", "KV", "*"}, {"ls", "a", "b"}} {
		if got, err := parseServicesQuery(bad); err == nil {
			t.Errorf("parseServicesQuery(%q) = %+v, want a usage error", bad, got)
		}
	}
}

func TestClean(t *testing.T) {
	long := strings.Repeat("é", maxField+1)
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a\tb\nc\x1b[0m\u202e", "a?b?c?[0m?"},
		{"\xff", "\uFFFD"},
		{long, long[:2*maxField] + "…"},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%.40q) = %.40q, want %.40q", tt.in, got, tt.want)
		}
	}
}

func TestPrintList(t *testing.T) {
	info := func(name, id, version, desc string) micro.Info {
		return micro.Info{ServiceIdentity: micro.ServiceIdentity{Name: name, ID: id, Version: version}, Description: desc}
	}
	var b bytes.Buffer
	printList(&b, "", []micro.Info{
		info("KV", "a1", "1.0.0", "Keys"),
		info("KV", "a2", "1.0.0", "Keys"),
		info("KV", "a3", "1.1.0", "Keys"),
		info("WordCount", "b1", "1.0.0", ""),
	})
	want := "" +
		"NAME       ID  VERSION  DESCRIPTION\n" +
		"KV         a1  1.0.0    Keys\n" +
		"           a2\n" +
		"           a3  1.1.0\n" +
		"WordCount  b1  1.0.0\n"
	if b.String() != want {
		t.Errorf("printList =\n%s\nwant\n%s", b.String(), want)
	}
}
