package rpcq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// TestCallers: a service that serves callers gives each handler the name
// its call's subject carried, in every delivery mode, and none to a call
// on the method's own subject; a client names no caller that cannot be
// one, and a service without callers does not answer calls that name one.
func TestCallers(t *testing.T) {
	b := brokertest.Start(t)
	type who struct{ Caller string }
	for _, mode := range []rpcq.Mode{rpcq.AtMostOnce, rpcq.AtLeastOnce, rpcq.ExactlyOnce, rpcq.ReadOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			service := "Who" + strings.ReplaceAll(mode.String(), "-", "")
			srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: service,
				Callers: true, Modes: map[string]rpcq.Mode{"Am": mode}, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			err = rpcq.HandleFunc(srv, "Am", func(ctx context.Context, _ struct{}) (who, error) {
				caller, ok := rpcq.CallerFrom(ctx)
				if ok != (caller != "") {
					return who{}, errors.New("CallerFrom says ok without a caller, or a caller without ok")
				}
				return who{caller}, nil
			})
			if err == nil {
				err = srv.Start()
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Shutdown(context.Background()) })
			ctx := timeout(t, 10*time.Second)
			for _, name := range []string{"", "alice", "bob-2_x"} {
				var got who
				err := client(t, b.Connect(), rpcq.ClientConfig{Caller: name}).Call(ctx, service+".Am", struct{}{}, &got)
				if err != nil || got.Caller != name {
					t.Errorf("caller %q: handler saw %q, %v", name, got.Caller, err)
				}
			}
		})
	}

	for _, bad := range []string{"a.b", "a*", ">", "a b", strings.Repeat("x", rpcq.MaxCallerLen+1)} {
		if _, err := rpcq.NewClient(b.Connect(), rpcq.ClientConfig{Caller: bad}); !errors.Is(err, rpcq.ErrInvalidConfig) {
			t.Errorf("client with caller %q: %v, want ErrInvalidConfig", bad, err)
		}
	}

	serve(t, b, &Arith{}, rpcq.ServerConfig{})
	var product int
	err := client(t, b.Connect(), rpcq.ClientConfig{Caller: "alice"}).Call(timeout(t, time.Second), "Arith.Multiply", Args{2, 3}, &product)
	if !errors.Is(err, rpcq.ErrNoResponders) {
		t.Errorf("a caller's call to a service without callers: %v, want no responders", err)
	}
}
