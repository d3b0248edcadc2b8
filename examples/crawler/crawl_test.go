package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/tasks"
)

// binary is the crawler built by TestMain, for the tests that kill
// workers.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "crawler-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "crawler")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build crawler:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const waitTimeout = 2 * time.Minute

var quiet = slog.New(slog.DiscardHandler)

// siteURL serves site on a loopback port for the test.
func siteURL(t *testing.T, site *Site) *url.URL {
	t.Helper()
	root, err := serveSite(t.Context(), site, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(root)
	return u
}

func client(t *testing.T, b *brokertest.Server) (*tasks.Client, jetstream.JetStream) {
	t.Helper()
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tasks.NewClient(t.Context(), js, tasks.ClientConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return c, js
}

// reference is the sequential depth-first crawl of root. It is run on a
// site of its own, with the same seed, so that its fetches are not
// counted with the crawl's.
func reference(t *testing.T, cfg SiteConfig) map[string]int {
	t.Helper()
	root := siteURL(t, NewSite(cfg))
	found, err := Sequential(t.Context(), &http.Client{}, root)
	if err != nil {
		t.Fatal(err)
	}
	// Both crawls run on sites at different ports: compare paths.
	out := map[string]int{}
	for u, status := range found {
		p, _ := url.Parse(u)
		out[p.RequestURI()] = status
	}
	return out
}

// check compares a crawl of site with the reference: every page found
// with its status, each URL recorded once, no page fetched more than
// maxFetches times, and the fetches each page reports no fewer than the
// site served.
func check(t *testing.T, site *Site, res *Result, want map[string]int, maxFetches int) {
	t.Helper()
	got := map[string]PageResult{}
	for u, p := range res.Pages {
		pu, _ := url.Parse(u)
		if _, dup := got[pu.RequestURI()]; dup {
			t.Errorf("%s recorded twice", u)
		}
		got[pu.RequestURI()] = p
	}
	if len(got) != len(want) {
		t.Errorf("crawl found %d pages, the depth-first crawl %d", len(got), len(want))
	}
	for path, status := range want {
		if p, ok := got[path]; !ok {
			t.Errorf("crawl did not find %s", path)
		} else if p.Status != status {
			t.Errorf("%s: status %d (%s), want %d", path, p.Status, p.Error, status)
		}
	}
	served := site.Fetches()
	for path, n := range served {
		if _, ok := want[path]; !ok {
			t.Errorf("crawl fetched %s, which is not reachable", path)
		}
		if n > maxFetches {
			t.Errorf("%s fetched %d times, want at most %d", path, n, maxFetches)
		}
		if p := got[path]; p.Fetches < n || p.Fetches > maxFetches {
			t.Errorf("%s: %d fetches reported, the site served %d; want %d to %d", path, p.Fetches, n, n, maxFetches)
		}
	}
	for path := range want {
		if served[path] == 0 {
			t.Errorf("%s found but never fetched", path)
		}
	}
}

func TestCrawlMatchesDepthFirst(t *testing.T) {
	cfg := SiteConfig{Seed: 7, Pages: 150, SlowDelay: 20 * time.Millisecond}
	want := reference(t, cfg)
	if len(want) < cfg.Pages || len(want) >= cfg.Pages+orphans+20 {
		t.Fatalf("the depth-first crawl found %d pages of a site of %d linked: the site is not what the test expects", len(want), cfg.Pages)
	}
	site := NewSite(cfg)
	root := siteURL(t, site)
	b := brokertest.Start(t)
	c, js := client(t, b)
	s, err := tasks.NewServer(js, tasks.Config{Queues: map[string]int{Queue: 8}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(TypeFetch, Handler(c, &http.Client{}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	cctx, ccancel := context.WithTimeout(t.Context(), waitTimeout)
	defer ccancel()
	res, err := Crawl(cctx, c, "crawl-t1", root, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	check(t, site, res, want, 1)

	// The same crawl again finds every URL claimed: nothing is fetched.
	before := site.Total()
	res, err = Crawl(cctx, c, "crawl-t1", root, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if site.Total() != before || len(res.Pages) != len(want) {
		t.Errorf("a crawl of the same name again fetched %d pages and found %d, want 0 and %d", site.Total()-before, len(res.Pages), len(want))
	}
}

// process is a crawler worker run as a process of its own.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startWorker(t *testing.T, natsURL, id string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, "worker", "--nats", natsURL, "--id", id, "--concurrency", "4", "--lease", "1s", "--log-level", "warn"),
		done: make(chan struct{})}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

func TestCrawlWithWorkersKilled(t *testing.T) {
	cfg := SiteConfig{Seed: 11, Pages: 200, SlowDelay: 100 * time.Millisecond}
	want := reference(t, cfg)
	site := NewSite(cfg)
	root := siteURL(t, site)
	b := brokertest.Start(t)
	c, _ := client(t, b)
	workers := map[string]*process{}
	for _, id := range []string{"w1", "w2", "w3"} {
		workers[id] = startWorker(t, b.ClientURL(), id)
	}
	type outcome struct {
		res *Result
		err error
	}
	out := make(chan outcome, 1)
	ended := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	go func() {
		defer close(ended)
		res, err := Crawl(ctx, c, "crawl-k1", root, 0, time.Hour)
		out <- outcome{res, err}
	}()

	// Two kills, each of a worker holding a fetch under way, and never of
	// one running a page's second attempt, whose third would be the
	// test's doing. A killed worker is replaced at once.
	for i, at := range []int{len(want) / 4, len(want) / 2} {
		brokertest.WaitFor(t, waitTimeout, func() bool { return site.Total() >= at }, "fetches under way")
		victim := pickVictim(t, c, site, workers, ended)
		if victim == "" {
			t.Logf("the crawl ended before kill %d", i+1)
			break
		}
		workers[victim].kill()
		t.Logf("killed %s after %d fetches", victim, site.Total())
		id := fmt.Sprintf("w%d", 4+i)
		workers[id] = startWorker(t, b.ClientURL(), id)
		delete(workers, victim)
		// The next kill waits until the killed worker's fetches have been
		// taken over and have ended: killing a worker as it takes one over
		// would make a third attempt, the test's doing.
		brokertest.WaitFor(t, waitTimeout, func() bool {
			select {
			case <-ended:
				return true
			default:
			}
			running, err := c.List(t.Context(), Queue, tasks.StateRunning)
			if err != nil {
				return false
			}
			for _, ti := range running {
				if ti.Worker == victim || ti.Attempt > 1 {
					return false
				}
			}
			return true
		}, "the killed worker's fetches to run elsewhere")
	}
	o := <-out
	if o.err != nil {
		t.Fatal(o.err)
	}
	again := 0
	for _, p := range o.res.Pages {
		if p.Fetches > 1 {
			again++
		}
	}
	t.Logf("%d pages in %v, %d fetched twice", len(o.res.Pages), o.res.Elapsed, again)
	if again == 0 {
		t.Errorf("no page was fetched twice: the kills hit no fetch under way")
	}
	check(t, site, o.res, want, 2)
}

// pickVictim returns a worker running a fetch of a slow page, so that it
// is still under way when the worker is killed, and none of whose running
// fetches is a second attempt; "" if the crawl ends first.
func pickVictim(t *testing.T, c *tasks.Client, site *Site, workers map[string]*process, ended <-chan struct{}) string {
	t.Helper()
	var victim string
	brokertest.WaitFor(t, waitTimeout, func() bool {
		select {
		case <-ended:
			return true
		default:
		}
		running, err := c.List(t.Context(), Queue, tasks.StateRunning)
		if err != nil {
			return false
		}
		busy, second := map[string]bool{}, map[string]bool{}
		for _, ti := range running {
			var f Fetch
			if ti.Decode(&f) != nil {
				continue
			}
			u, _ := url.Parse(f.URL)
			if i, ok := site.page(u.Path); ok && site.slow[i] {
				busy[ti.Worker] = true
			}
			if ti.Attempt > 1 {
				second[ti.Worker] = true
			}
		}
		for _, id := range slices.Sorted(maps.Keys(workers)) {
			if busy[id] && !second[id] {
				victim = id
				return true
			}
		}
		return false
	}, "a worker to kill")
	return victim
}
