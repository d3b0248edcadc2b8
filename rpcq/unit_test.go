package rpcq

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestCodecOf(t *testing.T) {
	tests := []struct {
		name   string
		header string
		body   string
		want   Codec
	}{
		{"json header", ContentTypeJSON, "\x81\xa1A\x01", JSON},
		{"msgpack header", ContentTypeMsgpack, `{"A":1}`, Msgpack},
		{"object", "", ` {"A":1}`, JSON},
		{"array", "", "\n[1,2]", JSON},
		{"empty", "", "", JSON},
		{"msgpack map", "", "\x81\xa1A\x01", Msgpack},
		{"msgpack fixint 123 with header", ContentTypeMsgpack, "{", Msgpack},
		{"json header with charset", "application/json; charset=utf-8", "k", JSON},
		{"string", "", `"k"`, JSON},
		{"number", "", ` -1.5e3 `, JSON},
		{"true", "", "true", JSON},
		{"null", "", "null", JSON},
		{"broken object", "", `{"A":`, JSON},
		{"plain text", "", "hello", Msgpack},
		{"unterminated string", "", `"k`, Msgpack},
		{"msgpack string", "", "\xa1k", Msgpack},
		{"msgpack fixint 49 is the JSON 1", "", "1", JSON},
		{"msgpack fixint 49 with header", ContentTypeMsgpack, "1", Msgpack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := nats.Header{}
			if tt.header != "" {
				h.Set(HeaderContentType, tt.header)
			}
			if got := codecOf(h, []byte(tt.body)); got != tt.want {
				t.Errorf("codecOf(%q, %q) = %s, want %s", tt.header, tt.body, got.ContentType(), tt.want.ContentType())
			}
		})
	}
}

func TestCodecsHonourJSONTags(t *testing.T) {
	type tagged struct {
		Name  string `json:"name"`
		Count int    `json:"count,omitempty"`
	}
	for _, codec := range []Codec{Msgpack, JSON} {
		data, err := codec.Marshal(tagged{Name: "x", Count: 2})
		if err != nil {
			t.Fatal(err)
		}
		var generic map[string]any
		if err := codec.Unmarshal(data, &generic); err != nil {
			t.Fatal(err)
		}
		if _, ok := generic["name"]; !ok {
			t.Errorf("%s encoding has keys %v, want json tag names", codec.ContentType(), generic)
		}
		var back tagged
		if err := codec.Unmarshal(data, &back); err != nil || back != (tagged{"x", 2}) {
			t.Errorf("%s round trip = %+v, %v", codec.ContentType(), back, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 20; n++ {
		want := min(10*time.Millisecond<<(n-1), time.Second)
		for range 100 {
			got := backoff(n, 10*time.Millisecond, time.Second, r)
			if got < want*3/4 || got > want*5/4 {
				t.Fatalf("backoff(%d) = %v, want within 25%% of %v", n, got, want)
			}
		}
	}
}

func TestSplitServiceMethod(t *testing.T) {
	tests := []struct {
		in              string
		service, method string
		ok              bool
	}{
		{"WordCount.Compute", "WordCount", "Compute", true},
		{"a-b_c.D1", "a-b_c", "D1", true},
		{"NoDot", "", "", false},
		{"Too.Many.Dots", "", "", false},
		{".Method", "", "", false},
		{"Svc.", "", "", false},
		{"Sp ace.M", "", "", false},
		{"Wild.*", "", "", false},
	}
	for _, tt := range tests {
		s, m, err := splitServiceMethod(tt.in)
		if (err == nil) != tt.ok || s != tt.service || m != tt.method {
			t.Errorf("splitServiceMethod(%q) = %q, %q, %v", tt.in, s, m, err)
		}
	}
}

func TestModeStrings(t *testing.T) {
	for _, m := range []Mode{AtMostOnce, AtLeastOnce, ReadOnly} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("twice"); err == nil {
		t.Error("ParseMode(twice) succeeded")
	}
}

type shapes struct{}

func (shapes) WithCtx(ctx context.Context, a int, r *int) error { *r = a; return nil }
func (shapes) Plain(a string, r *string) error                  { *r = a; return nil }
func (shapes) PtrArgs(a *int, r *int) error                     { *r = *a; return nil }
func (shapes) ValueReply(a int, r int) error                    { return nil }
func (shapes) NoError(a int, r *int)                            {}
func (shapes) TooMany(a, b int, r *int) error                   { return nil }
func (shapes) unexported(a int, r *int) error                   { return nil }

func TestMethodsOf(t *testing.T) {
	methods, skipped := methodsOf(shapes{})
	var names []string
	for _, m := range methods {
		names = append(names, m.name)
	}
	if got, want := names, []string{"Plain", "PtrArgs", "WithCtx"}; !equal(got, want) {
		t.Errorf("methods = %v, want %v", got, want)
	}
	if got, want := skipped, []string{"NoError", "TooMany", "ValueReply"}; !equal(got, want) {
		t.Errorf("skipped = %v, want %v", got, want)
	}
	for _, m := range methods {
		body, _ := JSON.Marshal(7)
		if m.name == "Plain" {
			body, _ = JSON.Marshal("seven")
		}
		out, err := m.invoke(context.Background(), JSON, body)
		if err != nil || (string(out) != "7" && string(out) != `"seven"`) {
			t.Errorf("%s(%s) = %s, %v", m.name, body, out, err)
		}
	}
}

func TestDecodeErrorIsBadRequest(t *testing.T) {
	methods, _ := methodsOf(shapes{})
	for _, m := range methods {
		_, err := m.invoke(context.Background(), Msgpack, []byte{0xc1}) // never used in msgpack
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s with a bad body = %v, want ErrBadRequest", m.name, err)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
