package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/auth/authtest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// TestRefusedAtOnce: a command the server refuses a permission ends at
// once, naming what was refused, instead of waiting out its timeout.
func TestRefusedAtOnce(t *testing.T) {
	b := authtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc := b.Connect(auth.Master)
	store, err := mr.Open(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster})
	if err != nil {
		t.Fatal(err)
	}
	m, err := master.New(nc, store, master.Config{Apps: builtinApps()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() { stop(); <-done }()

	file := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(file, []byte("a b\n"), 0o644)
	url := b.ClientURL()
	if code, _, errOut := drover(t, "ready", "--nats", url, "--nkey", b.Seed(auth.Reader), "--service", "Master"); code != 0 {
		t.Fatalf("drover ready as reader: exit %d, %s", code, errOut)
	}
	start := time.Now()
	code, _, errOut := drover(t, "submit", "--nats", url, "--nkey", b.Seed(auth.Reader), "--app", "wordcount", file)
	if code != 1 || !strings.HasPrefix(errOut, "drover: not allowed: Permissions Violation for Publish to") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("drover submit as reader: exit %d, %q; want 1 and one line saying what was not allowed", code, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("drover submit as reader took %v to fail", d)
	}
}
