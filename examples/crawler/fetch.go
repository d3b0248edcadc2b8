package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/drover-dev/drover/tasks"
)

// TypeFetch is the type of the crawler's one task: fetch a page.
const TypeFetch = "crawl:fetch"

// Queue is the queue of the fetch tasks.
const Queue = "crawl"

// Limits of a fetch.
const (
	// maxBody bounds the bytes of a page read.
	maxBody = 2 << 20
	// fetchTimeout bounds one request.
	fetchTimeout = 10 * time.Second
	// maxRetry is how many times a fetch that failed (a network error, a
	// 5xx) is tried again.
	maxRetry = 3
)

var errNotHTTP = errors.New("crawler: not an http(s) URL")

// Fetch is a fetch task's payload.
type Fetch struct {
	Crawl    string `json:"crawl"`     // the crawl's name: its group
	URL      string `json:"url"`       // normalized
	Depth    int    `json:"depth"`     // links from the root
	MaxDepth int    `json:"max_depth"` // 0: no limit
	// Retention is how long the crawl's results are kept, in nanoseconds:
	// as long as a URL's result is kept, the URL is not queued again.
	Retention time.Duration `json:"retention"`
}

// Page is a fetch task's result: what the crawl records of a URL.
type Page struct {
	URL    string   `json:"url"`
	Status int      `json:"status"`
	Links  []string `json:"links,omitempty"` // in scope, normalized
}

// TaskID is the ID of the fetch task of url in crawl: derived from both,
// so that a URL found by many pages, or by a fetch that runs twice, is
// queued once.
func TaskID(crawl, u string) string {
	sum := sha256.Sum256([]byte(u))
	return crawl + "-" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// enqueue queues the fetch of f.URL into f.Crawl's group, unless it is
// queued already.
func enqueue(ctx context.Context, c *tasks.Client, f Fetch) error {
	t, err := tasks.NewJSONTask(TypeFetch, f)
	if err != nil {
		return err
	}
	_, err = c.Enqueue(ctx, t, tasks.TaskID(TaskID(f.Crawl, f.URL)), tasks.Queue(Queue), tasks.Group(f.Crawl),
		tasks.MaxRetry(maxRetry), tasks.Timeout(2*fetchTimeout), tasks.Retention(f.Retention))
	return err
}

// Handler is the fetch task's handler: it fetches the page, and before
// it returns, queues a fetch of each link it has not queued yet into the
// crawl's group, so that the group stays open until they end.
func Handler(c *tasks.Client, hc *http.Client) tasks.Handler {
	return func(ctx context.Context, ti *tasks.TaskInfo) (any, error) {
		var f Fetch
		if err := ti.Decode(&f); err != nil {
			return nil, tasks.SkipRetry(err)
		}
		u, err := url.Parse(f.URL)
		if err != nil || len(f.URL) > maxURLLen || f.Depth < 0 || f.MaxDepth < 0 {
			return nil, tasks.SkipRetry(fmt.Errorf("invalid fetch of %.100q", f.URL))
		}
		page, err := get(ctx, hc, u)
		if err != nil {
			return nil, err
		}
		if f.MaxDepth == 0 || f.Depth < f.MaxDepth {
			for _, l := range page.Links {
				next := f
				next.URL, next.Depth = l, f.Depth+1
				if err := enqueue(ctx, c, next); err != nil {
					return nil, err
				}
			}
		}
		return page, nil
	}
}

// get fetches u and takes its links. A status of 500 or more is an
// error, to be retried; any other is the page's.
func get(ctx context.Context, hc *http.Client, u *url.URL) (*Page, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, tasks.SkipRetry(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	page := &Page{URL: u.String(), Status: resp.StatusCode}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusOK && ct == "text/html" {
		page.Links = Links(resp.Request.URL, io.LimitReader(resp.Body, maxBody))
	}
	return page, nil
}
