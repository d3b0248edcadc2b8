package apps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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

// mapSplit runs app's MapSplit over the lines of text and returns what it
// emitted, as `key<TAB>value` lines.
func mapSplit(ctx context.Context, app mr.App, text string) ([]string, error) {
	recs := mr.ReadSplit(strings.NewReader(text), int64(len(text)), mr.Split{End: int64(len(text))}, "in.txt")
	var out []string
	err := app.(mr.SplitMapper).MapSplit(ctx, recs, func(k, v string) error {
		out = append(out, k+"\t"+v)
		return nil
	})
	return out, err
}

// TestStreamingEnvironmentIsClean: a command sees the task's MR_
// variables and, of the worker's environment, only PATH, HOME, LANG,
// LC_ALL and TMPDIR: never NATS_URL, credentials or anything else.
func TestStreamingEnvironmentIsClean(t *testing.T) {
	const secret = "hunter2"
	t.Setenv("NATS_URL", "nats://drover:"+secret+"@broker:4222")
	t.Setenv("NATS_CREDS", "/etc/drover/"+secret+".creds")
	t.Setenv("DROVER_TOKEN", secret)
	t.Setenv("LANG", "C.UTF-8")
	ctx := mr.WithTaskInfo(context.Background(), mr.TaskInfo{Job: "j", Phase: mr.PhaseMap, Index: 3, Attempt: 2, Worker: "w1", Input: "in.txt"})
	lines, err := mapSplit(ctx, streaming(t, true, "cat >/dev/null; env", "cat"), "a\n")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "LC_ALL": true, "TMPDIR": true,
		"PWD": true, "OLDPWD": true, "SHLVL": true, "_": true} // the last four the shell's own
	seen := map[string]string{}
	for _, line := range lines {
		name, value, _ := strings.Cut(strings.TrimSuffix(line, "\t"), "=")
		seen[name] = value
		if !allowed[name] && !strings.HasPrefix(name, "MR_") || strings.Contains(line, secret) {
			t.Errorf("the command's environment holds %q", line)
		}
	}
	if seen["LANG"] != "C.UTF-8" || seen["MR_TASK_ID"] != "j/map/3" || seen["MR_INPUT"] != "in.txt" {
		t.Errorf("the command's environment %q lacks LANG or the task's variables", lines)
	}
}

// TestStreamingReadsAsTheCommandPrints: the mapper's lines are emitted
// while it runs, not once it has exited: this mapper exits only after
// its first line was emitted.
func TestStreamingReadsAsTheCommandPrints(t *testing.T) {
	release := filepath.Join(t.TempDir(), "release")
	app := streaming(t, true, `cat >/dev/null; echo first; while [ ! -e `+release+` ]; do sleep 0.01; done; echo second`, "cat")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := mr.ReadSplit(strings.NewReader("a\n"), 2, mr.Split{End: 2}, "in.txt")
	var got []string
	err := app.(mr.SplitMapper).MapSplit(ctx, recs, func(k, _ string) error {
		got = append(got, k)
		if k == "first" {
			return os.WriteFile(release, nil, 0o644)
		}
		return nil
	})
	if err != nil || strings.Join(got, " ") != "first second" {
		t.Errorf("MapSplit = %v, emitting %q; want both lines, the first before the mapper exited", err, got)
	}
}

// TestStreamingLineLimit: a line of MaxLineSize bytes passes; a longer
// one, even an endless one, fails the attempt at once with
// ErrLineTooLong, from the mapper and from the reducer.
func TestStreamingLineLimit(t *testing.T) {
	line := func(n int) string {
		return fmt.Sprintf(`cat >/dev/null; echo x; head -c %d /dev/zero | tr '\0' a; echo`, n)
	}
	tests := []struct {
		name, mapper, reducer string
		wantErr               error
	}{
		{"map line at the limit", line(apps.MaxLineSize), "cat >/dev/null", nil},
		{"map line past the limit", line(apps.MaxLineSize + 1), "cat >/dev/null", apps.ErrLineTooLong},
		{"endless map line", "tr -d '\\n' </dev/zero", "cat", apps.ErrLineTooLong},
		{"reduce line at the limit", "cat", line(apps.MaxLineSize), nil},
		{"reduce line past the limit", "cat", line(apps.MaxLineSize + 1), apps.ErrLineTooLong},
		{"endless reduce line", "cat", "tr -d '\\n' </dev/zero", apps.ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			app := streaming(t, true, tt.mapper, tt.reducer)
			parts, _, err := mr.RunMap(ctx, app, mr.ReadSplit(strings.NewReader("k\tv\n"), 4, mr.Split{End: 4}, "in.txt"), 1, nil)
			if err == nil {
				_, err = mr.RunReduce(ctx, app, []io.Reader{bytes.NewReader(parts[0])}, io.Discard, nil)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("map and reduce = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
