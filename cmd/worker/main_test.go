package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/drover-dev/drover/internal/cli"
)

// TestBadFlags: flags out of their bounds are usage errors, found before
// the worker connects anywhere.
func TestBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--sort-buffer", "1K"}, "--sort-buffer 1KiB: want 4KiB to 2GiB"},
		{[]string{"--sort-buffer", "3GiB"}, "--sort-buffer 3GiB: want 4KiB to 2GiB"},
		{[]string{"--sort-buffer", "lots"}, "want a number of bytes"},
		{[]string{"--temp-dir", "/nonexistent/drover"}, "--temp-dir /nonexistent/drover: want an existing directory"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), append(tt.args, "--nats", "nats://127.0.0.1:1"), &stderr, &stderr)
		var usage *cli.UsageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error()+stderr.String(), tt.want) {
			t.Errorf("worker %q = %v (stderr %q), want a usage error saying %q", tt.args, err, stderr.String(), tt.want)
		}
	}
}
