package main

import (
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SiteConfig describes a generated site. Zero fields take their defaults.
type SiteConfig struct {
	// Seed draws the site: the same seed makes the same pages and links.
	Seed uint64
	// Pages is how many pages are linked from somewhere (default 200);
	// a few more exist that nothing links to.
	Pages int
	// SlowDelay is how long a slow page takes to answer (default 50ms).
	SlowDelay time.Duration
}

// orphans is how many pages of a site no page links to: a crawl must not
// find them.
const orphans = 5

// Site is a generated web site: pages with cycles, links shared by many
// pages, links to pages that do not exist (404), links out of the site
// (never followed) and slow pages. It counts the requests of each path.
// It is safe for concurrent use.
type Site struct {
	cfg   SiteConfig
	links [][]string // of each page, as its HTML writes them
	slow  []bool

	mu      sync.Mutex
	fetches map[string]int
}

// NewSite draws the site of cfg.Seed.
func NewSite(cfg SiteConfig) *Site {
	if cfg.Pages <= 0 {
		cfg.Pages = 200
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 50 * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x63726177)) // "craw"
	s := &Site{cfg: cfg, fetches: map[string]int{}}
	total := cfg.Pages + orphans
	s.links = make([][]string, total)
	s.slow = make([]bool, total)
	for i := range total {
		s.slow[i] = rng.IntN(10) == 0
		n := 1 + rng.IntN(4)
		if i+1 < cfg.Pages {
			// A chain through every linked page makes them all reachable;
			// the random links make cycles and shared targets.
			s.links[i] = append(s.links[i], pagePath(i+1))
		}
		for range n {
			j := rng.IntN(cfg.Pages)
			switch rng.IntN(4) { // the same link written several ways
			case 0:
				s.links[i] = append(s.links[i], pagePath(j))
			case 1:
				s.links[i] = append(s.links[i], strconv.Itoa(j)+"#part")
			case 2:
				s.links[i] = append(s.links[i], "../p/"+strconv.Itoa(j))
			default:
				s.links[i] = append(s.links[i], pagePath(j)+"#top")
			}
		}
		if rng.IntN(6) == 0 {
			s.links[i] = append(s.links[i], "/p/missing-"+strconv.Itoa(rng.IntN(20)))
		}
		if rng.IntN(8) == 0 {
			s.links[i] = append(s.links[i], "http://example.invalid/elsewhere", "mailto:someone@example.invalid")
		}
	}
	return s
}

// pagePath is the path of page i; page 0 is the root.
func pagePath(i int) string {
	if i == 0 {
		return "/"
	}
	return "/p/" + strconv.Itoa(i)
}

// ServeHTTP serves a page, after a delay if it is slow; a path that is
// no page is 404.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.fetches[r.URL.Path]++
	s.mu.Unlock()
	i, ok := s.page(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.slow[i] {
		select {
		case <-time.After(s.cfg.SlowDelay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><title>Page %d</title></head><body>\n<h1>Page %d</h1>\n<ul>\n", i, i)
	for _, l := range s.links[i] {
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(l), html.EscapeString(l))
	}
	b.WriteString("</ul>\n<a name=\"part\"></a><a>no link</a>\n</body></html>\n")
	w.Write([]byte(b.String()))
}

func (s *Site) page(path string) (int, bool) {
	if path == "/" {
		return 0, true
	}
	n, ok := strings.CutPrefix(path, "/p/")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i <= 0 || i >= len(s.links) || strconv.Itoa(i) != n {
		return 0, false
	}
	return i, true
}

// Fetches returns how many times each path was requested. The map is the
// caller's.
func (s *Site) Fetches() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.fetches))
	for k, v := range s.fetches {
		out[k] = v
	}
	return out
}

// Total is how many requests the site has answered.
func (s *Site) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.fetches {
		n += v
	}
	return n
}

// Paths lists the paths of the site's pages, sorted.
func (s *Site) Paths() []string {
	var out []string
	for i := range s.links {
		out = append(out, pagePath(i))
	}
	slices.Sort(out)
	return out
}
