package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/drover-dev/drover/tasks"
)

// Result is a crawl's outcome: a page per URL found.
type Result struct {
	Pages   map[string]PageResult // by URL
	Elapsed time.Duration
}

// PageResult is what the crawl recorded of one URL.
type PageResult struct {
	Status  int    // HTTP status; 0 if every fetch failed
	Error   string // the last error of a URL whose fetches all failed
	Fetches int    // attempts made: more than 1 when a worker died or a fetch failed
}

// Crawl crawls from root with the workers of c's task queue: it queues
// the root's fetch into the group crawl, waits until the group is done,
// and reads what each fetch recorded. maxDepth 0 is no limit.
func Crawl(ctx context.Context, c *tasks.Client, crawl string, root *url.URL, maxDepth int, retention time.Duration) (*Result, error) {
	start := time.Now()
	if err := enqueue(ctx, c, Fetch{Crawl: crawl, URL: root.String(), MaxDepth: maxDepth, Retention: retention}); err != nil {
		return nil, err
	}
	if err := c.WaitGroup(ctx, crawl); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	all, err := c.List(ctx, Queue, "")
	if err != nil {
		return nil, err
	}
	res := &Result{Pages: map[string]PageResult{}, Elapsed: elapsed}
	for _, ti := range all {
		if ti.Group != crawl {
			continue
		}
		var f Fetch
		if err := ti.Decode(&f); err != nil {
			continue
		}
		pr := PageResult{Fetches: ti.Attempt, Error: ti.LastError}
		var p Page
		if ti.State == tasks.StateDone && ti.DecodeResult(&p) == nil {
			pr.Status, pr.Error = p.Status, ""
		}
		res.Pages[f.URL] = pr
	}
	return res, nil
}

// Sequential crawls from root depth first in this goroutine, as a
// reference: the pages it finds, with their statuses.
func Sequential(ctx context.Context, hc *http.Client, root *url.URL) (map[string]int, error) {
	found := map[string]int{}
	stack := []string{root.String()}
	queued := map[string]bool{root.String(): true}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pu, _ := url.Parse(u)
		page, err := get(ctx, hc, pu)
		if err != nil {
			return nil, err
		}
		found[u] = page.Status
		links := slices.Clone(page.Links)
		slices.Reverse(links) // the first link is visited first
		for _, l := range links {
			if !queued[l] {
				queued[l] = true
				stack = append(stack, l)
			}
		}
	}
	return found, nil
}
