package rpcq

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

// Content types of request and reply bodies.
const (
	ContentTypeMsgpack = "application/msgpack"
	ContentTypeJSON    = "application/json"
)

// Codec encodes arguments and replies. Both codecs here honour `json` struct
// tags, so one set of tags serves both wire formats.
type Codec interface {
	ContentType() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// Msgpack is the default codec.
var Msgpack Codec = msgpackCodec{}

// JSON is the codec of requests sent as JSON, from a shell for example.
var JSON Codec = jsonCodec{}

type msgpackCodec struct{}

func (msgpackCodec) ContentType() string { return ContentTypeMsgpack }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (msgpackCodec) Marshal(v any) ([]byte, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	enc := msgpack.GetEncoder()
	enc.Reset(buf)
	enc.SetCustomStructTag("json")
	err := enc.Encode(v)
	msgpack.PutEncoder(enc)
	out := bytes.Clone(buf.Bytes())
	bufPool.Put(buf)
	return out, err
}

// decoderPool keeps a decoder with its reader, so that a decode allocates
// only what it decodes.
var decoderPool = sync.Pool{New: func() any { return new(pooledDecoder) }}

type pooledDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

func (msgpackCodec) Unmarshal(data []byte, v any) error {
	d := decoderPool.Get().(*pooledDecoder)
	d.r.Reset(data)
	if d.dec == nil {
		d.dec = msgpack.NewDecoder(&d.r)
	} else {
		d.dec.Reset(&d.r)
	}
	d.dec.SetCustomStructTag("json")
	err := d.dec.Decode(v)
	d.r.Reset(nil)
	decoderPool.Put(d)
	return err
}

type jsonCodec struct{}

func (jsonCodec) ContentType() string           { return ContentTypeJSON }
func (jsonCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error {
	return json.Unmarshal(data, v)
}

// codecOf picks the codec of a request: its Content-Type header if it has
// one, else JSON for a body that is empty or looks like a JSON object or
// array, else msgpack. Sniffing only without a header matters: a msgpack
// body may begin with the byte '{' (the integer 123).
func codecOf(h nats.Header, body []byte) Codec {
	switch h.Get(HeaderContentType) {
	case ContentTypeJSON:
		return JSON
	case ContentTypeMsgpack:
		return Msgpack
	case "":
		if looksJSON(body) {
			return JSON
		}
	}
	return Msgpack
}

func looksJSON(body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) == 0 || body[0] == '{' || body[0] == '['
}
