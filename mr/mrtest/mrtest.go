// Package mrtest provides what tests of the MapReduce parts share: a
// broker with the protocol's resources, and an app that always fails.
package mrtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker"
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

// Start runs a broker for t, configured by cfg if given (see
// brokertest.Start), and makes the protocol's resources on it as a master
// does, with the given task lease. The context ends with t, or after two
// minutes.
func Start(t testing.TB, lease time.Duration, cfg ...broker.Config) (context.Context, *brokertest.Server, *mr.Store) {
	t.Helper()
	b := brokertest.Start(t, cfg...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	store, err := mr.Open(ctx, b.Connect(), mr.StoreConfig{Role: mr.RoleMaster, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, b, store
}

// Books are eight texts made from the two public-domain books the
// repository ships in examples/data, their lines drawn by a fixed seed,
// with lines of accented and non-Latin words among them so that word
// boundaries beyond ASCII are exercised. Each book is written into a
// directory of t's. Books returns their paths, and their names and
// contents as inputs of mr.Sequential; every call gives the same bytes.
func Books(t testing.TB) (paths []string, inputs []mr.NamedInput) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	sources, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "examples", "data", "*.txt"))
	var lines [][]byte
	for _, src := range sources {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, bytes.SplitAfter(data, []byte("\n"))...)
	}
	if len(lines) == 0 {
		t.Fatal("mrtest: no books in examples/data")
	}
	dir := t.TempDir()
	for i := range bookCount {
		data := book(lines, uint64(i))
		name := fmt.Sprintf("book-%d.txt", i)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		inputs = append(inputs, mr.NamedInput{Name: name, Data: data})
	}
	return paths, inputs
}

const (
	bookCount = 8
	bookSize  = 400 << 10
)

// foreign are lines whose words are not ASCII.
var foreign = [][]byte{
	[]byte("Café naïve Straße Ærø, señor – déjà vu.\n"),
	[]byte("Гре́гор Замза проснулся; Ελληνικά λόγια.\n"),
	[]byte("東京 and 北京, ØRESUND øresund.\n"),
}

// book is about bookSize bytes of lines, drawn by the seed.
func book(lines [][]byte, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x64726f766572))
	var b bytes.Buffer
	for b.Len() < bookSize {
		if rng.IntN(50) == 0 {
			b.Write(foreign[rng.IntN(len(foreign))])
			continue
		}
		start := rng.IntN(len(lines))
		for _, l := range lines[start:min(start+1+rng.IntN(40), len(lines))] {
			b.Write(l)
		}
	}
	if seed%2 == 1 { // half the books end without a final newline
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	return b.Bytes()
}
