package rpcq

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRequestHeader(t *testing.T) {
	const client = "0189a3c5e7f9b2d48c0f3a9e5b7d2f41"
	for _, tc := range []struct {
		in   string
		want requestHeader
		bad  bool
	}{
		{in: "", want: requestHeader{}},
		{in: "d=1.5s", want: requestHeader{deadline: 1500 * time.Millisecond, hasDL: true}},
		{in: "id=" + client + "-7 d=2500us a=6 t=42 n=3", want: requestHeader{client: client, seq: 7, deadline: 2500 * time.Microsecond, hasDL: true, ack: 6, sent: 42, attempt: 3}},
		{in: "  a=1   id=" + client + "-2 ", want: requestHeader{client: client, seq: 2, ack: 1}},
		{in: "d=-5ms", want: requestHeader{deadline: -5 * time.Millisecond, hasDL: true}},
		{in: "id=" + client + "-0", bad: true},                     // sequence numbers start at 1
		{in: "id=abc-1", bad: true},                                // client ID too short
		{in: "id=" + client + "-x", bad: true},                     // seq not a number
		{in: "id=" + client + "-1 id=" + client + "-2", bad: true}, // twice
		{in: "d=soon", bad: true},
		{in: "a=-1", bad: true},
		{in: "x=1", bad: true},
		{in: "d", bad: true},
		{in: "d=", bad: true},
		{in: "=1", bad: true},
		{in: "n=1 " + strings.Repeat("t=1", 100), bad: true}, // too long
	} {
		got, err := parseRequestHeader(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("parse %q = %+v, %v; want a bad request", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parse %q = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestRequestHeaderRoundTrip(t *testing.T) {
	const id = "0189a3c5e7f9b2d48c0f3a9e5b7d2f41-12"
	for _, tc := range []struct {
		withAck bool
		sent    int64
		attempt int
	}{{false, 0, 1}, {true, 0, 1}, {true, 1764910000123456789, 1}, {false, 0, 4}} {
		v := string(appendRequestHeader(nil, id, 1234567*time.Microsecond, 11, tc.withAck, tc.sent, tc.attempt))
		h, err := parseRequestHeader(v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		want := requestHeader{client: id[:32], seq: 12, deadline: 1234567 * time.Microsecond, hasDL: true, sent: tc.sent}
		if tc.withAck {
			want.ack = 11
		}
		if tc.attempt > 1 {
			want.attempt = tc.attempt
		}
		if h != want {
			t.Errorf("%q read back as %+v, want %+v", v, h, want)
		}
	}
}
