// Command benchtable turns `go test -bench` output into a Markdown table
// of ratios against baselines measured in the same run.
//
// Within each top-level benchmark, sub-benchmarks named baseline-* are the
// baselines; every row is divided by each of them. With -count above 1 the
// median of each benchmark's runs is used.
//
//	go test -run '^$' -bench . -count 5 ./rpcq | go run ./internal/benchtable
package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// result is one benchmark's runs.
type result struct {
	group, name string
	nsPerOp     []float64
	metrics     map[string][]float64 // custom units (b.ReportMetric), by unit
}

func (r *result) median() float64 { return median(r.nsPerOp) }

func median(values []float64) float64 {
	v := slices.Clone(values)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func run(in io.Reader, out io.Writer) error {
	var machine []string
	var order []*result
	byName := map[string]*result{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		for _, key := range []string{"goos:", "goarch:", "cpu:"} {
			// Said again by each of several runs fed in one after another.
			if v := strings.TrimSpace(strings.TrimPrefix(line, key)); strings.HasPrefix(line, key) && !slices.Contains(machine, v) {
				machine = append(machine, v)
			}
		}
		full, ns, metrics, ok := parseLine(line)
		if !ok {
			continue
		}
		r := byName[full]
		if r == nil {
			group, name, _ := strings.Cut(full, "/")
			r = &result{group: group, name: cmp.Or(name, group), metrics: map[string][]float64{}}
			byName[full] = r
			order = append(order, r)
		}
		r.nsPerOp = append(r.nsPerOp, ns)
		for unit, v := range metrics {
			r.metrics[unit] = append(r.metrics[unit], v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	if len(machine) > 0 {
		fmt.Fprintf(out, "Machine: %s, %d cores\n\n", strings.Join(machine, ", "), runtime.NumCPU())
	}
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && order[j].group == order[i].group {
			j++
		}
		writeGroup(out, order[i:j])
		i = j
	}
	return nil
}

// parseLine reads "BenchmarkX/y-2  1000  1234 ns/op  5 tasks/s ..." into
// "X/y", 1234 and the other metrics ({"tasks/s": 5, "allocs/op": 20});
// B/op is left out, as allocations count for more than their bytes.
func parseLine(line string) (name string, nsPerOp float64, metrics map[string]float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", 0, nil, false
	}
	metrics = map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", 0, nil, false
		}
		switch unit := f[i+1]; unit {
		case "ns/op":
			nsPerOp, ok = v, true
		case "B/op":
		default:
			metrics[unit] = v
		}
	}
	name = strings.TrimPrefix(f[0], "Benchmark")
	if k := strings.LastIndex(name, "-"); k > 0 {
		if _, err := strconv.Atoi(name[k+1:]); err == nil {
			name = name[:k] // the GOMAXPROCS suffix
		}
	}
	return name, nsPerOp, metrics, ok
}

func writeGroup(out io.Writer, rows []*result) {
	var baselines []*result
	units := map[string]bool{}
	for _, r := range rows {
		if strings.HasPrefix(r.name, "baseline-") {
			baselines = append(baselines, r)
		}
		for unit := range r.metrics {
			units[unit] = true
		}
	}
	extra := slices.Sorted(maps.Keys(units))
	fmt.Fprintf(out, "%s\n\n| | ns/op | ops/s |", rows[0].group)
	for _, b := range baselines {
		fmt.Fprintf(out, " ÷ %s |", strings.TrimPrefix(b.name, "baseline-"))
	}
	for _, unit := range extra {
		fmt.Fprintf(out, " %s |", unit)
	}
	fmt.Fprintf(out, "\n|---|---:|---:|%s\n", strings.Repeat("---:|", len(baselines)+len(extra)))
	for _, r := range rows {
		ns := r.median()
		fmt.Fprintf(out, "| %s | %.0f | %s |", r.name, ns, number(1e9/ns))
		for _, b := range baselines {
			fmt.Fprintf(out, " %.2f× |", ns/b.median())
		}
		for _, unit := range extra {
			if len(r.metrics[unit]) == 0 {
				fmt.Fprint(out, " — |") // not measured for this row
				continue
			}
			fmt.Fprintf(out, " %s |", number(median(r.metrics[unit])))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out)
}

// number formats a figure: whole above 100, three significant digits below.
func number(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
