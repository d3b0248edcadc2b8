package apps_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/drover-dev/drover/mr"
)

// TestInputIsUTF8: input is read as UTF-8, so an invalid byte, such as
// Latin-1's é, is a replacement character and ends a word, as the README
// says; UTF-8 letters stay within their word.
func TestInputIsUTF8(t *testing.T) {
	in := mr.NamedInput{Name: "latin1.txt", Data: []byte("caf\xe9 café na\xefve\n")}
	out, err := mr.Sequential(context.Background(), newApp(t, "wordcount"), []mr.NamedInput{in}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(bytes.Join(out, nil)), "caf 1\ncafé 1\nna 1\nve 1\n"; got != want {
		t.Errorf("word count of Latin-1 input = %q, want %q", got, want)
	}
}
