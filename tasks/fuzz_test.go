package tasks

import (
	"testing"
	"time"
)

// FuzzDecodeRecord checks that no stored record, however made, panics the
// decoder, and that every record it accepts is within the limits and
// survives the state functions.
func FuzzDecodeRecord(f *testing.F) {
	r, _ := newRecord(&Task{Type: "x", Payload: []byte("p")}, []Option{Group("g")}, t0, time.Hour, func() string { return "id" })
	f.Add(r.encode())
	f.Add([]byte(`{"id":"a","type":"t","queue":"q","state":"running","run":"r","timeout":1,"retried":3,"max_retry":2}`))
	f.Add([]byte(`{"id":"a","type":"t","queue":"q","state":"pending","run":"r","timeout":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		if err := r.validate(); err != nil {
			t.Fatalf("accepted a record that fails validation: %v", err)
		}
		v, _, _ := admit(r, r.Run, t0)
		if v == verdictRun {
			r = started(r, "w", 7, t0)
			r = failed(r, "e", false, t0, Backoff{Base: time.Second, Max: time.Minute}, 0.5)
		}
		if _, err := decodeRecord(r.encode()); err != nil {
			t.Fatalf("a record the core made does not decode: %v", err)
		}
		_ = r.info(t0)
	})
}
