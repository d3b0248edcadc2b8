package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sync"
	"time"
)

// asset is a file of static/ and its fingerprint.
type asset struct {
	data []byte
	hash string // hex, the start of the data's SHA-256
}

// assets are the files of static/ by name, read once from the binary.
var assets = sync.OnceValue(func() map[string]asset {
	m := map[string]asset{}
	entries, _ := fs.ReadDir(files, "static")
	for _, e := range entries {
		data, err := fs.ReadFile(files, path.Join("static", e.Name()))
		if err != nil {
			continue
		}
		sum := sha256.Sum256(data)
		m[e.Name()] = asset{data: data, hash: hex.EncodeToString(sum[:8])}
	}
	return m
})

// staticURL is the URL of the static file name, with its fingerprint in
// the query, so that a browser may keep it for as long as it likes: the
// URL changes with the file.
func staticURL(name string) string {
	return "/static/" + name + "?v=" + assets()[name].hash
}

// serveStatic serves a file of static/. Asked for by the URL staticURL
// makes, it may be cached for a year; by any other, it is revalidated
// each time (by its ETag).
func serveStatic(w http.ResponseWriter, r *http.Request) {
	a, ok := assets()[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("ETag", `"`+a.hash+`"`)
	if r.URL.Query().Get("v") == a.hash {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, r.PathValue("name"), time.Time{}, bytes.NewReader(a.data))
}
