// Package apps holds Drover's built-in MapReduce apps: wordcount, indexer,
// grep, sum and sort. Register adds them to a registry; a user's worker binary
// adds its own apps beside them.
package apps

import (
	"context"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/drover-dev/drover/mr"
)

// Registry returns a registry of the built-in apps; streaming's commands
// run only if allowExec.
func Registry(allowExec bool) *mr.Registry {
	var reg mr.Registry
	Register(&reg)
	RegisterStreaming(&reg, allowExec)
	return &reg
}

// Register adds the built-in apps but streaming to reg.
func Register(reg *mr.Registry) error {
	for name, newApp := range map[string]mr.NewApp{
		"wordcount": func(args []string) (mr.App, error) { return WordCount{}, noArgs(args) },
		"indexer":   func(args []string) (mr.App, error) { return Indexer{}, noArgs(args) },
		"grep":      NewGrep,
		"sum":       func(args []string) (mr.App, error) { return Sum{}, noArgs(args) },
		"sort":      NewSort,
	} {
		if err := reg.Register(name, newApp); err != nil {
			return err
		}
	}
	return nil
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("takes no arguments, got %q", args)
	}
	return nil
}

// eachWord calls f with each word of s, a maximal run of Unicode letters,
// in order, stopping at f's first error. It allocates nothing: the words
// are substrings of s.
func eachWord(s string, f func(string) error) error {
	start := -1
	for i, r := range s {
		letter := r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') || r >= utf8.RuneSelf && unicode.IsLetter(r)
		switch {
		case letter && start < 0:
			start = i
		case !letter && start >= 0:
			if err := f(s[start:i]); err != nil {
				return err
			}
			start = -1
		}
	}
	if start >= 0 {
		return f(s[start:])
	}
	return nil
}

// sum adds decimal counts.
func sum(values iter.Seq[string]) (string, error) {
	var n int64
	for v := range values {
		if v == "1" { // what every map emits
			n++
			continue
		}
		c, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("count %q: %w", v, err)
		}
		n += c
	}
	return strconv.FormatInt(n, 10), nil
}

// WordCount counts words, a word being a maximal run of Unicode letters.
// Output: `word count`.
type WordCount struct{}

func (WordCount) Name() string    { return "wordcount" }
func (WordCount) Version() string { return "1" }

func (WordCount) Map(_ context.Context, rec mr.Record, emit mr.Emit) error {
	return eachWord(rec.Text, func(w string) error { return emit(w, "1") })
}

func (WordCount) Reduce(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	return sum(values)
}

// SumsIntegers says that Combine adds integers, so that the map side can
// keep a running total per word.
func (WordCount) SumsIntegers() {}

// Combine sums on the map side what Reduce sums again.
func (WordCount) Combine(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	return sum(values)
}

// Indexer builds an inverted index: for each word, the documents (inputs)
// it occurs in. Output: `word N doc1,doc2`, the N distinct documents
// sorted. A document's name is printed with '%', ',' and every control
// character (newlines, tabs, U+0080 to U+009F, U+2028, U+2029) and
// invalid UTF-8 byte percent-encoded, each byte as %XX, as in a URL: a
// name can neither split the list nor start a line of its own, and
// decoding %XX gives it back.
type Indexer struct{}

func (Indexer) Name() string    { return "indexer" }
func (Indexer) Version() string { return "2" } // 2: names are escaped

func (Indexer) Map(_ context.Context, rec mr.Record, emit mr.Emit) error {
	doc := DocName(rec.Input)
	return eachWord(rec.Text, func(w string) error { return emit(w, doc) })
}

// DocName is name as the indexer prints it: '%', ',', control
// characters, U+2028, U+2029 and invalid UTF-8 bytes percent-encoded.
func DocName(name string) string {
	if !strings.ContainsFunc(name, escapedInName) {
		return name // the usual case: nothing to copy
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if escapedInName(r) {
			for _, c := range []byte(name[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapedInName reports whether the indexer percent-encodes r in a
// document's name; utf8.RuneError stands for an invalid byte.
func escapedInName(r rune) bool {
	return r == '%' || r == ',' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
}

// docSep separates documents inside a combined value; DocName escapes it
// out of every name.
const docSep = "\x00"

// Combine keeps each document once.
func (Indexer) Combine(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	return strings.Join(distinctDocs(values), docSep), nil
}

func (Indexer) Reduce(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	docs := distinctDocs(values)
	return strconv.Itoa(len(docs)) + " " + strings.Join(docs, ","), nil
}

func distinctDocs(values iter.Seq[string]) []string {
	var docs []string
	for v := range values {
		docs = append(docs, strings.Split(v, docSep)...)
	}
	slices.Sort(docs)
	return slices.Compact(docs)
}

// Grep counts the matches of a regular expression, as Hadoop's grep
// example does. Output: `match count`.
type Grep struct {
	re *regexp.Regexp
}

// NewGrep makes a grep for the one pattern in args (RE2 syntax).
func NewGrep(args []string) (mr.App, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("takes one argument, a regular expression; got %d", len(args))
	}
	re, err := regexp.Compile(args[0])
	if err != nil {
		return nil, err
	}
	return Grep{re: re}, nil
}

func (Grep) Name() string    { return "grep" }
func (Grep) Version() string { return "1" }

func (g Grep) Map(_ context.Context, rec mr.Record, emit mr.Emit) error {
	for _, m := range g.re.FindAllString(rec.Text, -1) {
		if m == "" {
			continue // an empty match says nothing
		}
		if err := emit(m, "1"); err != nil {
			return err
		}
	}
	return nil
}

func (Grep) Reduce(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	return sum(values)
}

// SumsIntegers says that Combine adds integers.
func (Grep) SumsIntegers() {}

// Combine sums on the map side.
func (Grep) Combine(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	return sum(values)
}
