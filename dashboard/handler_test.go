package dashboard_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/dashboard"
	"github.com/drover-dev/drover/dashboard/dashboardtest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// hostile is text a job may carry that breaks out of HTML, an attribute
// or the title if it is not escaped.
const hostile = `<script>alert(1)</script>"'</title><b>&amp;`

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// hostileJob is a failed job whose every text holds hostile.
func hostileJob() dashboard.JobData {
	id := "job" + hostile
	return dashboard.JobData{
		Status: master.JobStatus{ID: id, App: "app" + hostile, State: master.JobFailed, Error: "error" + hostile,
			Maps: 1, Reduces: 1, Notes: []string{"note" + hostile}, Submitted: t0.UnixNano(), Ended: t0.Add(3 * time.Second).UnixNano()},
		Spec: &mr.JobSpec{App: "app" + hostile, Args: []string{"arg" + hostile}, R: 1,
			Inputs: []mr.Input{{Name: "input" + hostile, Path: "/data/" + hostile, Size: 10, Digest: "d" + hostile}}},
		Records: []dashboard.Record{
			{At: t0.Add(time.Second), Event: mr.Event{Kind: mr.EventStarted, Job: id, Phase: mr.PhaseMap, Attempt: 1, Worker: "w" + hostile}},
			{At: t0.Add(2 * time.Second), Event: mr.Event{Kind: mr.EventFailed, Job: id, Phase: mr.PhaseMap, Attempt: 1, Worker: "w" + hostile, Error: "failure" + hostile}},
		},
	}
}

func newHandler(t testing.TB, src dashboard.Source) *dashboard.Handler {
	t.Helper()
	h, err := dashboard.New(dashboard.Config{Source: src, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0.Add(time.Minute) }, Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

// TestPagesEscapeJobText: a job whose ID, app, arguments, inputs, error,
// notes and worker hold markup renders it as text on every page.
func TestPagesEscapeJobText(t *testing.T) {
	src := &dashboardtest.Source{Live: []mr.WorkerInfo{{ID: "w1", Host: "host" + hostile, Version: "v" + hostile, Slots: 1, Apps: []string{"a"},
		Running: []mr.SlotTask{{Job: "j" + hostile, Phase: mr.PhaseMap}}}},
		Info: dashboard.Cluster{Connected: "n" + hostile, Nodes: []string{"n" + hostile}, Streams: []dashboard.Stream{{Name: "s" + hostile, Leader: "n" + hostile, Error: ""}}}}
	job := hostileJob()
	src.Add(job)
	h := newHandler(t, src)
	for _, target := range []string{"/jobs", "/jobs/" + url.PathEscape(job.Status.ID), "/workers", "/cluster"} {
		t.Run(target, func(t *testing.T) {
			res, body := get(t, h, target)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200: %s", target, res.StatusCode, body)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>") {
				t.Errorf("GET %s shows markup of the job unescaped:\n%s", target, body)
			}
			head, _, _ := strings.Cut(body, "</head>")
			if n := strings.Count(head, "</title>"); n != 1 || strings.Contains(body, "</title><b>") {
				t.Errorf("GET %s has %d </title> in its head, want 1, or the job's </title> unescaped", target, n)
			}
			if n := strings.Count(body, "<script") - strings.Count(body, `<script type="application/json" class="timeline-runs">`); n != 1 {
				t.Errorf("GET %s has %d <script elements but the timeline's data, want 1 (the page's own)", target, n)
			}
			if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("GET %s does not show the hostile text as text", target)
			}
			if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy %q, want script-src 'self'", target, got)
			}
		})
	}
	_, body := get(t, h, "/jobs/"+url.PathEscape(job.Status.ID))
	for _, want := range []string{"failure&lt;script&gt;", "arg&lt;script&gt;", "note&lt;script&gt;", "input&lt;script&gt;", `<td>w&lt;script&gt;`} {
		if !strings.Contains(body, want) {
			t.Errorf("job page lacks %s", want)
		}
	}
	runs := timelineRuns(t, body)
	if len(runs) != 1 || !strings.Contains(runs[0], "on w"+hostile+": failed") || !strings.Contains(runs[0], "failure"+hostile) {
		t.Errorf("timeline's tooltips %q, want the one run's, with its worker and error as they are", runs)
	}
}

var runsRE = regexp.MustCompile(`(?s)<script type="application/json" class="timeline-runs">(.*?)</script>`)

// timelineRuns are the tooltips of the bars of the timeline of a job's
// page, as its script reads them; it fails t if the page's JSON has
// markup unescaped or does not parse.
func timelineRuns(t *testing.T, body string) []string {
	t.Helper()
	m := runsRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no timeline data")
	}
	if strings.ContainsAny(m[1], "<>&") {
		t.Errorf("timeline data holds markup unescaped: %s", m[1])
	}
	var data struct {
		Top, Pitch, Height int
		Rows               [][][]any
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("timeline data: %v: %s", err, m[1])
	}
	var out []string
	for _, row := range data.Rows {
		for _, bar := range row {
			if len(bar) != 3 {
				t.Fatalf("timeline data has bar %v, want [x, width, tooltip]", bar)
			}
			s, _ := bar[2].(string)
			out = append(out, s)
		}
	}
	return out
}

// TestJobsPaging: 250 jobs are listed 100 a page, newest first, with a
// link to the next page and none on the last.
func TestJobsPaging(t *testing.T) {
	src := &dashboardtest.Source{}
	for i := range 250 {
		src.Add(dashboard.JobData{Status: master.JobStatus{ID: fmt.Sprintf("job-%03d", i), App: "wordcount", State: master.JobDone,
			Submitted: t0.Add(time.Duration(i) * time.Second).UnixNano(), Ended: t0.Add(time.Duration(i+1) * time.Second).UnixNano()}})
	}
	h := newHandler(t, src)
	next := regexp.MustCompile(`<a href="(/jobs\?after=[^"]+)" rel="next">`)
	rows := regexp.MustCompile(`data-job="([^"]+)"`)
	target := "/jobs"
	var seen []string
	for page := 0; target != ""; page++ {
		_, body := get(t, h, target)
		ids := rows.FindAllStringSubmatch(body, -1)
		if want := []int{100, 100, 50}[page]; len(ids) != want {
			t.Fatalf("page %d has %d jobs, want %d", page, len(ids), want)
		}
		for _, m := range ids {
			seen = append(seen, m[1])
		}
		target = ""
		if m := next.FindStringSubmatch(body); m != nil {
			target = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if seen[0] != "job-249" || seen[249] != "job-000" {
		t.Errorf("jobs listed %s first and %s last, want job-249 and job-000", seen[0], seen[249])
	}
}

// TestCancel: a cancel needs its page's token and a same-origin request.
func TestCancel(t *testing.T) {
	tests := []struct {
		name   string
		token  func(body string) string
		header map[string]string
		want   int
	}{
		{"page's token", pageToken, nil, http.StatusSeeOther},
		{"no token", func(string) string { return "" }, nil, http.StatusForbidden},
		{"another job's token", func(string) string { return "x" + pageToken(hostilePage) }, nil, http.StatusForbidden},
		{"cross-site", pageToken, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"other origin", pageToken, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"same origin", pageToken, map[string]string{"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &dashboardtest.Source{}
			src.Add(dashboard.JobData{Status: master.JobStatus{ID: "job1", App: "wordcount", State: master.JobMapping, Maps: 1, Submitted: t0.UnixNano()}})
			h := newHandler(t, src)
			_, page := get(t, h, "/jobs/job1")
			form := url.Values{"token": {tt.token(page)}}
			req := httptest.NewRequest("POST", "/jobs/job1/cancel", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("POST cancel = %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if cancelled := len(src.Cancelled) == 1; cancelled != (tt.want == http.StatusSeeOther) {
				t.Errorf("cancelled %v, want %v", src.Cancelled, tt.want == http.StatusSeeOther)
			}
		})
	}
}

// hostilePage is a page whose token belongs to no job of TestCancel.
const hostilePage = `name="token" value="abc"`

var tokenRE = regexp.MustCompile(`name="token" value="([^"]*)"`)

func pageToken(body string) string {
	if m := tokenRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// TestErrors: an unknown job is 404, a bad page argument 400, a source
// that fails 502, each with a page that says why.
func TestErrors(t *testing.T) {
	tests := []struct {
		target string
		err    error
		want   int
	}{
		{"/jobs/nope", nil, http.StatusNotFound},
		{"/jobs?limit=0", nil, http.StatusBadRequest},
		{"/jobs?limit=101", nil, http.StatusBadRequest},
		{"/jobs?after=" + strings.Repeat("x", 400), nil, http.StatusBadRequest},
		{"/jobs/" + strings.Repeat("x", 400), nil, http.StatusBadRequest},
		{"/jobs", fmt.Errorf("no master is running"), http.StatusBadGateway},
		{"/workers", fmt.Errorf("no registry"), http.StatusBadGateway},
		{"/nope", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		h := newHandler(t, &dashboardtest.Source{Err: tt.err})
		if res, body := get(t, h, tt.target); res.StatusCode != tt.want {
			t.Errorf("GET %.60s = %d, want %d: %s", tt.target, res.StatusCode, tt.want, body)
		}
	}
}

// TestLivePages: a running job's page updates itself (script and meta
// refresh), an ended job's does not, and its cancel form is gone.
func TestLivePages(t *testing.T) {
	src := &dashboardtest.Source{}
	src.Add(dashboard.JobData{Status: master.JobStatus{ID: "run", App: "wordcount", State: master.JobMapping, Maps: 1, Submitted: t0.UnixNano()}})
	src.Add(dashboard.JobData{Status: master.JobStatus{ID: "done", App: "wordcount", State: master.JobDone, Maps: 1, MapsDone: 1,
		Submitted: t0.UnixNano(), Ended: t0.Add(time.Second).UnixNano()}})
	h := newHandler(t, src)
	tests := []struct {
		target     string
		live, form bool
	}{{"/jobs/run", true, true}, {"/jobs/done", false, false}, {"/jobs", true, false}}
	for _, tt := range tests {
		_, body := get(t, h, tt.target)
		if got := strings.Contains(body, `data-live="running"`) && strings.Contains(body, `http-equiv="refresh"`); got != tt.live {
			t.Errorf("GET %s: live %v, want %v", tt.target, got, tt.live)
		}
		if got := strings.Contains(body, `action="/jobs/`); got != tt.form {
			t.Errorf("GET %s: cancel form %v, want %v", tt.target, got, tt.form)
		}
	}
}

// TestCompression: a page is gzipped for a client that accepts gzip, the
// same page once inflated, and as it is for one that does not.
func TestCompression(t *testing.T) {
	src := &dashboardtest.Source{}
	src.Add(bigJob("big", 400, 100))
	h := newHandler(t, src)
	_, plain := get(t, h, "/jobs/big")
	tests := []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"x-gzip", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=nonsense", false},
		{"deflate, br", false},
		{"*", false},
		{"gzipped", false},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/jobs/big", nil)
		if tt.accept != "" {
			req.Header.Set("Accept-Encoding", tt.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.gzip {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", tt.accept, got, tt.gzip)
			continue
		}
		if got := rec.Header().Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q, want Accept-Encoding", tt.accept, got)
		}
		body, n := rec.Body.Bytes(), rec.Body.Len()
		if tt.gzip {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatalf("Accept-Encoding %q: %v", tt.accept, err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("Accept-Encoding %q: %v", tt.accept, err)
			}
			if n > len(plain)/4 {
				t.Errorf("Accept-Encoding %q: %d bytes gzipped of %d, want a quarter or less", tt.accept, n, len(plain))
			}
		}
		if string(body) != plain {
			t.Errorf("Accept-Encoding %q: the page differs from the one not compressed", tt.accept)
		}
	}
}

// TestStaticCaching: a page names its style and script by URLs that carry
// their fingerprints, which may be cached for good; a request that
// revalidates gets 304, and any other URL is revalidated.
func TestStaticCaching(t *testing.T) {
	h := newHandler(t, &dashboardtest.Source{})
	_, page := get(t, h, "/jobs")
	urls := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(urls) != 2 {
		t.Fatalf("page names %d static files, want 2 (style and script): %v", len(urls), urls)
	}
	for _, m := range urls {
		target := strings.ReplaceAll(m[1], "&amp;", "&")
		res, body := get(t, h, target)
		if res.StatusCode != http.StatusOK || body == "" {
			t.Fatalf("GET %s = %d with %d bytes, want 200 and the file", target, res.StatusCode, len(body))
		}
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want immutable", target, got)
		}
		etag := res.Header.Get("ETag")
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("If-None-Match", etag)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if etag == "" || rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s = %d, want 304", target, etag, rec.Code)
		}
		path, _, _ := strings.Cut(target, "?")
		for _, other := range []string{path, path + "?v=old"} {
			if res, _ := get(t, h, other); res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("GET %s = %d, Cache-Control %q, want 200 and no-cache", other, res.StatusCode, res.Header.Get("Cache-Control"))
			}
		}
	}
	for _, target := range []string{"/static/nope.js", "/static/", "/static/../handler.go"} {
		if res, _ := get(t, h, target); res.StatusCode != http.StatusNotFound && res.StatusCode/100 != 3 {
			t.Errorf("GET %s = %d, want 404", target, res.StatusCode)
		}
	}
}
