package dashboard

import (
	"compress/gzip"
	"strconv"
	"strings"
	"sync"
)

// gzipWriters are the writers of compressed pages, at the fastest level:
// a page of a job of thousands of tasks shrinks tenfold in a few
// milliseconds, where the default level would take several times longer
// for a few percent less.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// acceptsGzip is whether the Accept-Encoding header values of a request
// name gzip with a weight above zero. Only "gzip" and "x-gzip" are
// taken at their word: a client that names neither gets the page as it
// is, which every client reads.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && !strings.EqualFold(name, "x-gzip") {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil {
						f = 0
					}
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}
