package rpcq

import (
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// RequestField is field key of the request's Rpcq header, or "".
func RequestField(h nats.Header, key string) string {
	for field := range strings.FieldsSeq(h.Get(HeaderRequest)) {
		if k, v, _ := strings.Cut(field, "="); k == key {
			return v
		}
	}
	return ""
}

// SetRequestField sets field key of the request's Rpcq header to v.
func SetRequestField(h nats.Header, key, v string) {
	var out []string
	for field := range strings.FieldsSeq(h.Get(HeaderRequest)) {
		if k, _, _ := strings.Cut(field, "="); k != key {
			out = append(out, field)
		}
	}
	h.Set(HeaderRequest, strings.Join(append(out, key+"="+v), " "))
}

// WaitsOnIO is t as a table that waits on I/O, whose calls the server
// runs off their endpoints' subscriptions, as it does a KVTable's.
func WaitsOnIO(t Table) Table { return ioWrapped{t} }

type ioWrapped struct{ Table }

func (ioWrapped) waitsOnIO() {}

// SetReplyDelay sets how long t's replies wait for a claim to share a
// write with; set it before the table is used.
func SetReplyDelay(t *KVTable, d time.Duration) { t.replyDelay = d }
