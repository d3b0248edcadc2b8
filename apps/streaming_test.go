package apps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/mr"
)

// The lecture's word count as shell tools: a word is a run of ASCII
// letters. The reducer relies on its input being sorted by key.
const (
	shellMapper  = `LC_ALL=C tr -cs 'A-Za-z' '\n' | grep -v '^$' | sed 's/$/	1/'`
	shellReducer = `LC_ALL=C awk -F'\t' '$1 != prev { if (NR > 1) print prev, n; prev = $1; n = 0 } { n += $2 } END { if (NR > 0) print prev, n }'`
)

func streaming(t *testing.T, allow bool, args ...string) mr.App {
	t.Helper()
	var reg mr.Registry
	if err := apps.RegisterStreaming(&reg, allow); err != nil {
		t.Fatal(err)
	}
	app, err := reg.New("streaming", args)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestStreamingWordCount(t *testing.T) {
	inputs := books(t)[:2]
	got := distributed(t, streaming(t, true, shellMapper, shellReducer), inputs, 2, 128<<10)

	counts := map[string]int{}
	for _, in := range inputs {
		for _, w := range strings.FieldsFunc(string(in.Data), func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) {
			counts[w]++
		}
	}
	var wc mr.App = apps.WordCount{}
	want := make([][]string, 2)
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		p := mr.Partition(wc, w, 2)
		want[p] = append(want[p], fmt.Sprintf("%s %d", w, counts[w]))
	}
	for p := range got {
		if string(got[p]) != strings.Join(want[p], "\n")+"\n" {
			t.Errorf("partition %d: %d bytes of output differ from the ASCII word count", p, len(got[p]))
		}
	}
}

func TestStreamingEnvironmentAndFailures(t *testing.T) {
	ctx := mr.WithTaskInfo(context.Background(), mr.TaskInfo{Job: "j", Phase: mr.PhaseMap, Index: 3, Attempt: 2, Worker: "w1", Input: "in.txt"})
	recs := func(text string) func(func(mr.Record, error) bool) {
		return mr.ReadSplit(strings.NewReader(text), int64(len(text)), mr.Split{End: int64(len(text))}, "in.txt")
	}
	app := streaming(t, true, `cat >/dev/null; printf '%s\t%s %s %s %s\n' "$MR_INPUT" "$MR_JOB_ID" "$MR_TASK_ID" "$MR_ATTEMPT" "$MR_WORKER_ID"`, "cat")
	parts, _, err := mr.RunMap(ctx, app, recs("a\nb\n"), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := mr.RunReduce(ctx, app, []io.Reader{bytes.NewReader(parts[0])}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if want := "in.txt\tj j/map/3 2 w1\n"; out.String() != want {
		t.Errorf("environment seen by the mapper %q, want %q", out.String(), want)
	}

	failing := streaming(t, true, `echo "bad input on line 1" >&2; exit 3`, "cat")
	if _, _, err := mr.RunMap(ctx, failing, recs("a\n"), 1, nil); err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "bad input on line 1") {
		t.Errorf("failing mapper: %v, want its exit status and stderr", err)
	}
	refused := streaming(t, false, "cat", "cat")
	if _, _, err := mr.RunMap(ctx, refused, recs("a\n"), 1, nil); !errors.Is(err, apps.ErrExecNotAllowed) {
		t.Errorf("streaming without --allow-exec: %v, want ErrExecNotAllowed", err)
	}
	var reg mr.Registry
	apps.RegisterStreaming(&reg, true)
	if _, err := reg.New("streaming", []string{"only one"}); err == nil {
		t.Error("streaming with one command accepted")
	}
}
