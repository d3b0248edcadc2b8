package main

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestLinks(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:80/p/3")
	page := `<html><body>
<a href="/p/4">abs</a> <a href="5#x">rel</a> <a href="../p/4#top">again</a>
<a href="http://127.0.0.1:80">root</a> <a href="https://127.0.0.1:80/p/9">other scheme</a>
<a href="http://example.invalid/">out</a> <a href="mailto:x@example.invalid">mail</a>
<a name="anchor">no href</a> <A HREF="/p/6?q=1">upper</A> <a href="%zz">bad</a>
<a href="http://user:pw@127.0.0.1:80/p/7">user info</a>
</body></html>`
	got := Links(base, strings.NewReader(page))
	want := []string{
		"http://127.0.0.1:80/p/4", "http://127.0.0.1:80/p/5", "http://127.0.0.1:80/",
		"http://127.0.0.1:80/p/6?q=1", "http://127.0.0.1:80/p/7",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Links = %q, want %q", got, want)
	}
}

func TestLinksBounded(t *testing.T) {
	base, _ := url.Parse("http://h/")
	var b strings.Builder
	for i := range 2 * maxLinks {
		b.WriteString(`<a href="/` + strings.Repeat("x", i%7) + `/` + string(rune('a'+i%26)) + `/` + strconv.Itoa(i) + `">x</a>`)
	}
	b.WriteString(`<a href="/` + strings.Repeat("y", maxURLLen) + `">long</a>`)
	if got := Links(base, strings.NewReader(b.String())); len(got) != maxLinks {
		t.Errorf("Links of %d links = %d links, want %d", 2*maxLinks, len(got), maxLinks)
	}
	if got := Links(base, strings.NewReader(`<a href="/`+strings.Repeat("y", maxURLLen)+`">long</a>`)); len(got) != 0 {
		t.Errorf("Links kept a URL over %d bytes", maxURLLen)
	}
}

func TestParseRoot(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/", true},
		{"https://example.invalid/a#frag", "https://example.invalid/a", true},
		{"ftp://example.invalid/", "", false},
		{"/relative", "", false},
		{"http://%zz", "", false},
	} {
		u, err := ParseRoot(tc.in)
		if (err == nil) != tc.ok || err == nil && u.String() != tc.want {
			t.Errorf("ParseRoot(%q) = %v, %v, want %q (ok %v)", tc.in, u, err, tc.want, tc.ok)
		}
	}
}

func TestTaskID(t *testing.T) {
	a, b := TaskID("crawl-1", "http://h/a"), TaskID("crawl-1", "http://h/b")
	if a == b || a != TaskID("crawl-1", "http://h/a") || a == TaskID("crawl-2", "http://h/a") {
		t.Errorf("TaskID is not one per crawl and URL: %s %s", a, b)
	}
	long := TaskID(strings.Repeat("c", 64), "http://h/"+strings.Repeat("x", maxURLLen))
	if len(long) > 128 || strings.ContainsAny(long, ".*>/+ ") {
		t.Errorf("TaskID = %q: not a valid task ID", long)
	}
}
