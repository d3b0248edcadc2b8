package main

import (
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// maxLinks bounds the links taken from one page.
const maxLinks = 1000

// maxURLLen bounds a URL the crawler keeps.
const maxURLLen = 2048

// Links returns the links of the HTML page at base that stay in scope
// (base's scheme and host), normalized (see normalize), each once, in the
// order they first appear; at most maxLinks.
func Links(base *url.URL, body io.Reader) []string {
	var out []string
	seen := map[string]bool{}
	z := html.NewTokenizer(body)
	for len(out) < maxLinks {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		if string(name) != "a" || !hasAttr {
			continue
		}
		for {
			key, val, more := z.TagAttr()
			if string(key) == "href" {
				if u, ok := resolve(base, string(val)); ok && !seen[u] {
					seen[u] = true
					out = append(out, u)
				}
			}
			if !more {
				break
			}
		}
	}
	return out
}

// resolve resolves href against base and normalizes it; ok is false for
// a link out of base's scope or that is no http(s) URL.
func resolve(base *url.URL, href string) (string, bool) {
	ref, err := url.Parse(strings.TrimSpace(href))
	if err != nil {
		return "", false
	}
	u := base.ResolveReference(ref)
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return "", false
	}
	return normalize(u)
}

// normalize is the form of u that names a page: no fragment, no user
// information, a path of at least "/".
func normalize(u *url.URL) (string, bool) {
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", false
	}
	v := *u
	v.Fragment, v.RawFragment, v.User = "", "", nil
	if v.Path == "" {
		v.Path = "/"
	}
	s := v.String()
	return s, len(s) <= maxURLLen
}

// ParseRoot checks and normalizes the URL a crawl starts from.
func ParseRoot(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	s, ok := normalize(u)
	if !ok {
		return nil, errNotHTTP
	}
	return url.Parse(s)
}
