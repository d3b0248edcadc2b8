package worker_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/worker"
)

func TestNewRejectsBadConfig(t *testing.T) {
	apps := mrtest.Registry()
	tests := []struct {
		name  string
		cfg   worker.Config
		field string
	}{
		{"no apps", worker.Config{}, "Apps"},
		{"negative slots", worker.Config{Apps: apps, Slots: -1}, "Slots"},
		{"negative slow factor", worker.Config{Apps: apps, SlowFactor: -2}, "SlowFactor"},
		{"missing shared root", worker.Config{Apps: apps, SharedRoots: []string{"/nonexistent/drover"}}, "SharedRoots"},
		{"shared root a file", worker.Config{Apps: apps, SharedRoots: []string{"config_test.go"}}, "SharedRoots"},
		{"sort buffer too small", worker.Config{Apps: apps, SortBuffer: 100}, "SortBuffer"},
		{"sort buffer too large", worker.Config{Apps: apps, SortBuffer: 1 << 40}, "SortBuffer"},
		{"missing temp dir", worker.Config{Apps: apps, TempDir: "/nonexistent/drover"}, "TempDir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := worker.New(nil, tt.cfg)
			if !errors.Is(err, worker.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("New(%+v) = %v, want ErrInvalidConfig naming %s", tt.cfg, err, tt.field)
			}
		})
	}
	if _, err := worker.New(nil, worker.Config{Apps: apps}); err != nil {
		t.Errorf("New(zero Slots) = %v, want the default", err)
	}
}
