package rpcq

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
)

type fuzzArgs struct {
	Name  string
	Count int
	Tags  []string
	Attrs map[string]float64
	Next  *fuzzArgs
	Items []fuzzArgs
}

// FuzzDecodeRequest feeds arbitrary request bodies, with and without a
// Content-Type, to a method: it answers or fails with CodeBadRequest, and
// never panics.
func FuzzDecodeRequest(f *testing.F) {
	good, _ := Msgpack.Marshal(fuzzArgs{Name: "a", Count: 2, Tags: []string{"x"}, Next: &fuzzArgs{}})
	f.Add(good, "")
	f.Add(good, ContentTypeMsgpack)
	f.Add([]byte(`{"Name":"a","Count":2,"Tags":["x"],"Attrs":{"k":1.5}}`), "")
	f.Add([]byte(`[1,2,3]`), ContentTypeJSON)
	f.Add([]byte{}, "")
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, "") // a map claiming 4G entries
	f.Add([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff}, ContentTypeMsgpack)
	// A list of structs claiming 2G of them: msgpack alone would allocate
	// them all, hundreds of gigabytes, and the process would die.
	f.Add([]byte{0x81, 0xa5, 'I', 't', 'e', 'm', 's', 0xdd, 0x7f, 0xff, 0xff, 0xff}, ContentTypeMsgpack)
	f.Add(bytes.Repeat([]byte{0x91}, 100000), "") // nested a hundred thousand deep
	invoke := funcMethod(func(ctx context.Context, a fuzzArgs) (fuzzArgs, error) { return a, nil })
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		h := nats.Header{}
		if contentType != "" {
			h.Set(HeaderContentType, contentType)
		}
		codec := codecOf(h, body)
		out, err := invoke(context.Background(), codec, body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		var back fuzzArgs
		if err := codec.Unmarshal(out, &back); err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
	})
}

// FuzzReply feeds arbitrary reply messages to the client's decoding: a
// result or an error, never a panic.
func FuzzReply(f *testing.F) {
	good, _ := Msgpack.Marshal(map[string]int{"a": 1})
	f.Add(good, "", "", "")
	f.Add([]byte(`{"a":1}`), ContentTypeJSON, "", "")
	f.Add([]byte{}, "", "404", "no such method")
	f.Add([]byte("x"), "", "not-a-number", "")
	f.Fuzz(func(t *testing.T, body []byte, contentType, code, desc string) {
		h := nats.Header{}
		for k, v := range map[string]string{HeaderContentType: contentType, HeaderErrorCode: code, HeaderError: desc} {
			if v != "" {
				h.Set(k, v)
			}
		}
		var reply map[string]int
		call := &Call{ServiceMethod: "S.M", Reply: &reply, codec: Msgpack, msg: &nats.Msg{Header: h, Data: body}}
		call.decode()
		var re *RemoteError
		var de *DecodeError
		if code != "" && !errors.As(call.Error, &re) {
			t.Fatalf("reply with error code %q gave %v", code, call.Error)
		}
		if call.Error != nil && !errors.As(call.Error, &re) && !errors.As(call.Error, &de) {
			t.Fatalf("unexpected error type %T: %v", call.Error, call.Error)
		}
	})
}

// FuzzRequestHeader feeds arbitrary Rpcq header values to the server's
// parse: a header it accepts, or CodeBadRequest, never a panic; what the
// client writes reads back as written.
func FuzzRequestHeader(f *testing.F) {
	f.Add("id=0189a3c5e7f9b2d48c0f3a9e5b7d2f41-7 d=9999123us a=6 t=1764910000123456789 n=2")
	f.Add("id=0189a3c5e7f9b2d48c0f3a9e5b7d2f41-1 d=2s a=0")
	f.Add("d=1.5s")
	f.Add("d=-5ms")
	f.Add("id=0189a3c5e7f9b2d48c0f3a9e5b7d2f41-18446744073709551615")
	f.Add("id=x-1 id=y-2")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		h, err := parseRequestHeader(v)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		if h.client == "" {
			return
		}
		id := h.client + "-" + strconv.FormatUint(h.seq, 10)
		again, err := parseRequestHeader(string(appendRequestHeader(nil, id, h.deadline, h.ack, true, h.sent, h.attempt)))
		if err != nil || again.client != h.client || again.seq != h.seq || again.ack != h.ack || again.sent != h.sent {
			t.Fatalf("%q written back reads %+v, %v", v, again, err)
		}
	})
}
