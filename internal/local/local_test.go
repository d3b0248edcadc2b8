package local_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/internal/local"
)

// TestBrokerNeedsTheToken: the local broker listens on loopback alone and
// admits only clients holding its token, so that another user of the
// machine cannot submit a job to a deployment that may run commands.
func TestBrokerNeedsTheToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := local.Start(ctx, local.Config{Workers: 1, Apps: apps.Registry(true), AllowExec: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if url := c.Broker.ClientURL(); !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Errorf("local broker listens at %s, want loopback", url)
	}
	if _, err := nats.Connect(c.Broker.ClientURL(), nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connect without the token = %v, want an authorization error", err)
	}
	nc, err := nats.Connect(c.URL(), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect with the token: %v", err)
	}
	nc.Close()
}
