package apps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// books are the test texts made from examples/data.
func books(t *testing.T) []mr.NamedInput {
	_, inputs := mrtest.Books(t)
	return inputs
}

func newApp(t *testing.T, name string, args ...string) mr.App {
	t.Helper()
	var reg mr.Registry
	if err := apps.Register(&reg); err != nil {
		t.Fatal(err)
	}
	app, err := reg.New(name, args)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// distributed runs the job the way workers do: every input cut into
// splits, a map per split, and a reduce per partition merging every map's
// run.
func distributed(t *testing.T, app mr.App, inputs []mr.NamedInput, r int, splitSize int64) [][]byte {
	t.Helper()
	ctx := context.Background()
	runs := make([][][]byte, r) // partition -> map task -> run
	for _, in := range inputs {
		for _, s := range mr.Splits(int64(len(in.Data)), splitSize) {
			parts, _, err := mr.RunMap(ctx, app, mr.ReadSplit(bytes.NewReader(in.Data), int64(len(in.Data)), s, in.Name), r, nil)
			if err != nil {
				t.Fatal(err)
			}
			for p := range parts {
				runs[p] = append(runs[p], parts[p])
			}
		}
	}
	out := make([][]byte, r)
	for p := range runs {
		var readers []io.Reader
		for _, run := range runs[p] {
			readers = append(readers, bytes.NewReader(run))
		}
		var buf bytes.Buffer
		if _, err := mr.RunReduce(ctx, app, readers, &buf, nil); err != nil {
			t.Fatal(err)
		}
		out[p] = buf.Bytes()
	}
	return out
}

// TestDistributedMatchesSequential: for every built-in app, the output of
// maps over splits merged by reduces is byte-identical to the sequential
// computation.
func TestDistributedMatchesSequential(t *testing.T) {
	inputs := books(t)
	for _, tt := range []struct {
		app  string
		args []string
	}{{"wordcount", nil}, {"indexer", nil}, {"grep", []string{`[Gg]regor|[Ee]rnest|\b[Dd][a-z]+|Café`}}} {
		t.Run(tt.app, func(t *testing.T) {
			app := newApp(t, tt.app, tt.args...)
			want, err := mr.Sequential(context.Background(), app, inputs, 3)
			if err != nil {
				t.Fatal(err)
			}
			got := distributed(t, app, inputs, 3, 256<<10)
			for p := range want {
				if !bytes.Equal(got[p], want[p]) {
					t.Errorf("partition %d differs: %d bytes, want %d", p, len(got[p]), len(want[p]))
				}
				if len(want[p]) == 0 {
					t.Errorf("partition %d is empty", p)
				}
			}
		})
	}
}

// TestWordCountIsRight checks the sequential word count itself against a
// count written independently.
func TestWordCountIsRight(t *testing.T) {
	inputs := books(t)
	counts := map[string]int{}
	for _, in := range inputs {
		for _, w := range strings.FieldsFunc(string(in.Data), func(r rune) bool { return !unicode.IsLetter(r) }) {
			counts[w]++
		}
	}
	var want []string
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		want = append(want, fmt.Sprintf("%s %d", w, counts[w]))
	}
	out, err := mr.Sequential(context.Background(), newApp(t, "wordcount"), inputs, 4)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, part := range out {
		got = append(got, strings.Split(strings.TrimSuffix(string(part), "\n"), "\n")...)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("word count: %d lines, want %d", len(got), len(want))
	}
}

func TestIndexer(t *testing.T) {
	inputs := []mr.NamedInput{
		{Name: "b.txt", Data: []byte("the cat\nthe dog, the end\n")},
		{Name: "a.txt", Data: []byte("a cat!\n")},
	}
	out, err := mr.Sequential(context.Background(), newApp(t, "indexer"), inputs, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := "a 1 a.txt\ncat 2 a.txt,b.txt\ndog 1 b.txt\nend 1 b.txt\nthe 1 b.txt\n"
	if string(out[0]) != want {
		t.Errorf("indexer output:\n%s\nwant:\n%s", out[0], want)
	}
	got := distributed(t, newApp(t, "indexer"), inputs, 1, 4)
	if string(got[0]) != want {
		t.Errorf("distributed indexer output:\n%s\nwant:\n%s", got[0], want)
	}
}

// TestIndexerEscapesNames: documents whose names hold a newline, a comma,
// a '%' or other control characters cannot forge a line or a document:
// each word has one line, its list splits at commas into the documents,
// and each decodes back to its name.
func TestIndexerEscapesNames(t *testing.T) {
	names := []string{"x.txt\nInjected 999 x.txt", "a,b.txt", "100%.txt", "nul\x00.txt", "tab\t.txt", "line\u2028sep\u0085.txt", "bad\xffbyte.txt", "plain.txt"}
	var inputs []mr.NamedInput
	for _, name := range names {
		inputs = append(inputs, mr.NamedInput{Name: name, Data: []byte("shared\n" + "own\n")})
	}
	inputs[0].Data = append(inputs[0].Data, "Injected\n"...)
	app := newApp(t, "indexer")
	seq, err := mr.Sequential(context.Background(), app, inputs, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range [][]byte{seq[0], distributed(t, app, inputs, 1, 8)[0]} {
		want := map[string][]string{"Injected": {names[0]}, "own": names, "shared": names}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("indexer output has %d lines, want %d:\n%s", len(lines), len(want), out)
		}
		for _, line := range lines {
			f := strings.SplitN(line, " ", 3)
			if len(f) != 3 || want[f[0]] == nil {
				t.Errorf("indexer line %q: want a word of the input, a count and documents", line)
				continue
			}
			var docs []string
			for _, doc := range strings.Split(f[2], ",") {
				name, err := url.PathUnescape(doc)
				if err != nil || strings.ContainsFunc(doc, unicode.IsControl) {
					t.Errorf("document %q of %q: %v, want printable and percent-encoded", doc, f[0], err)
				}
				docs = append(docs, name)
			}
			slices.Sort(docs)
			wantDocs := slices.Sorted(slices.Values(want[f[0]]))
			if f[1] != strconv.Itoa(len(wantDocs)) || !slices.Equal(docs, wantDocs) {
				t.Errorf("indexer line %q: documents %q, want %q", line, docs, wantDocs)
			}
		}
	}
	if got, want := apps.DocName("a,b%\n.txt"), "a%2Cb%25%0A.txt"; got != want {
		t.Errorf("DocName(%q) = %q, want %q", "a,b%\n.txt", got, want)
	}
}

func TestBadArguments(t *testing.T) {
	var reg mr.Registry
	apps.Register(&reg)
	for _, tt := range []struct {
		name string
		args []string
	}{{"grep", nil}, {"grep", []string{"("}}, {"wordcount", []string{"x"}}, {"nope", nil}} {
		if _, err := reg.New(tt.name, tt.args); err == nil {
			t.Errorf("New(%s, %q) succeeded", tt.name, tt.args)
		}
	}
	if _, err := reg.New("nope", nil); !errors.Is(err, mr.ErrUnknownApp) || !strings.Contains(err.Error(), "wordcount") {
		t.Errorf("New(nope) = %v, want ErrUnknownApp listing the known apps", err)
	}
}
