package rpcq

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// requestHeader is what the Rpcq header of a request says. One header
// carries all of it because every header costs an encode on the client,
// and a parse and a map entry on every relay and server: with the fields
// in headers of their own, they cost more than the rest of rpcq's code.
type requestHeader struct {
	client   string        // 32 hex digits; "" without an id field
	seq      uint64        // from the id field
	deadline time.Duration // the time the caller had left
	hasDL    bool          // a d field was given
	ack      uint64        // the client's watermark (a field)
	sent     int64         // Unix nanoseconds by the client's clock (t field); 0 if absent
	attempt  int           // the send number (n field); 0 if absent
}

// maxRequestHeader bounds the Rpcq header: the fields the client sends
// take less than 120 bytes.
const maxRequestHeader = 256

// appendRequestHeader appends the Rpcq header value of one send.
func appendRequestHeader(b []byte, id string, left time.Duration, ack uint64, withAck bool, sent int64, attempt int) []byte {
	b = append(b, "id="...)
	b = append(b, id...)
	b = append(b, " d="...)
	b = strconv.AppendInt(b, left.Microseconds(), 10)
	b = append(b, "us"...)
	if withAck {
		b = append(b, " a="...)
		b = strconv.AppendUint(b, ack, 10)
	}
	if sent != 0 {
		b = append(b, " t="...)
		b = strconv.AppendInt(b, sent, 10)
	}
	if attempt > 1 {
		b = append(b, " n="...)
		b = strconv.AppendInt(b, int64(attempt), 10)
	}
	return b
}

// requestFields are the keys of the Rpcq header's fields.
var requestFields = [...]string{"id", "d", "a", "t", "n"}

// parseRequestHeader reads an Rpcq header value: fields separated by
// spaces, each key=value, every key at most once. An empty value is a
// request without one (from a shell, say).
func parseRequestHeader(v string) (requestHeader, error) {
	var h requestHeader
	if len(v) > maxRequestHeader {
		return h, Errorf(CodeBadRequest, "%s header of %d bytes: at most %d", HeaderRequest, len(v), maxRequestHeader)
	}
	var seen [len(requestFields)]bool
	for field := range strings.FieldsSeq(v) {
		key, val, ok := strings.Cut(field, "=")
		i := slices.Index(requestFields[:], key)
		if !ok || val == "" || i < 0 || seen[i] {
			return requestHeader{}, Errorf(CodeBadRequest, "%s header: field %q: want id=<client>-<seq>, d=<duration>, a=<ack>, t=<sent>, n=<attempt>, each at most once", HeaderRequest, field)
		}
		seen[i] = true
		var err error
		switch key {
		case "id":
			client, seq, found := strings.Cut(val, "-")
			if !found || len(client) != 32 {
				err = strconv.ErrSyntax
				break
			}
			h.client = client
			h.seq, err = strconv.ParseUint(seq, 10, 64)
			if err == nil && h.seq == 0 {
				err = strconv.ErrRange
			}
		case "d":
			h.deadline, err = time.ParseDuration(val)
			h.hasDL = true
		case "a":
			h.ack, err = strconv.ParseUint(val, 10, 64)
		case "t":
			h.sent, err = strconv.ParseInt(val, 10, 64)
		case "n":
			h.attempt, err = strconv.Atoi(val)
		}
		if err != nil {
			return requestHeader{}, Errorf(CodeBadRequest, "%s header: field %q is malformed", HeaderRequest, field)
		}
	}
	return h, nil
}
