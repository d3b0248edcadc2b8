package rpcq

import (
	"bytes"
	"encoding/json"
	"mime"
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
	if err := checkMsgpack(data); err != nil {
		return err
	}
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
// one (parameters such as charset are ignored), else JSON for a body that
// is empty, is JSON text (any JSON value: `"k"`, `42`, `{"A":1}`), or
// begins like a JSON object or array, else msgpack.
//
// The only msgpack bodies that are also JSON text are the one-byte
// integers 48 to 57, the ASCII digits, and '{' (123) and '[' (91) begin
// like JSON: every other msgpack value begins with a byte that no JSON
// text begins with. The client sends Content-Type wherever this rule
// would misread its body, so sniffing only matters to callers that send
// no header, such as the nats CLI.
func codecOf(h nats.Header, body []byte) Codec {
	ct := h.Get(HeaderContentType)
	if ct != ContentTypeJSON && ct != ContentTypeMsgpack && ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt
		}
	}
	switch ct {
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
	start := bytes.TrimLeft(body, " \t\r\n")
	if len(start) == 0 {
		return true
	}
	// An object or array with a syntax error is still meant as JSON, and
	// is better told so than read as msgpack.
	switch c := start[0]; {
	case c == '{' || c == '[':
		return true
	case c == '"' || c == '-' || c == 't' || c == 'f' || c == 'n' || '0' <= c && c <= '9':
		return json.Valid(start) // the only bytes JSON text can begin with
	}
	return false
}
