// Package mrtest provides what tests of the MapReduce parts share: a
// broker with the protocol's resources, and an app that always fails.
package mrtest

import (
	"context"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

// Failing is an app whose every map fails with ErrFailing.
type Failing struct{}

// ErrFailing is what Failing's maps return.
var ErrFailing = errors.New("this mapper always fails")

func (Failing) Name() string                                                     { return "failing" }
func (Failing) Version() string                                                  { return "1" }
func (Failing) Map(context.Context, mr.Record, mr.Emit) error                    { return ErrFailing }
func (Failing) Reduce(context.Context, string, iter.Seq[string]) (string, error) { return "", nil }

// Registry returns the built-in apps and "failing".
func Registry() *mr.Registry {
	reg := apps.Registry(false)
	reg.Register("failing", func([]string) (mr.App, error) { return Failing{}, nil })
	return reg
}

// Start runs a broker for t and ensures the protocol's resources on it,
// with the given task lease. The context ends with t, or after two minutes.
func Start(t testing.TB, lease time.Duration) (context.Context, *brokertest.Server, *mr.Store) {
	t.Helper()
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	store, err := mr.Open(ctx, b.Connect(), mr.StoreConfig{Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, b, store
}

// Books are the Gutenberg texts beside the repository, in
// ../shared/data/gutenberg: their paths, and their names and contents as
// inputs of mr.Sequential. A test that needs them is skipped, saying why,
// where they are absent.
func Books(t testing.TB) (paths []string, inputs []mr.NamedInput) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "gutenberg")
	paths, _ = filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(paths) == 0 {
		t.Skipf("no books to count: %s is absent", dir)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, mr.NamedInput{Name: filepath.Base(p), Data: data})
	}
	return paths, inputs
}
