package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
cpu: Test CPU
BenchmarkCall/baseline-nats-2         	   86680	     30000 ns/op
BenchmarkCall/rpcq-2                  	   45865	     45000 ns/op
BenchmarkCall/baseline-nats-2         	   86680	     32000 ns/op
BenchmarkCall/rpcq-2                  	   45865	     48000 ns/op
BenchmarkCall/baseline-nats-2         	   86680	     31000 ns/op
BenchmarkCall/rpcq-2                  	   45865	     46500 ns/op
BenchmarkInFlight64/baseline-nats-2   	  357546	      6000 ns/op	    1595 B/op	      16 allocs/op
BenchmarkInFlight64/baseline-netrpc-2 	  322489	      8000 ns/op
BenchmarkInFlight64/rpcq-2            	  201693	      4000 ns/op
BenchmarkEmpty-2   	       1	 720287981 ns/op	      2778 tasks/s
PASS
goos: linux
goarch: amd64
cpu: Test CPU
PASS
`

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(strings.NewReader(sample), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| rpcq | 46500 | 21505 | 1.50× |", // medians 46500 / 31000
		"| baseline-nats | 31000 | 32258 | 1.00× |",
		"| ÷ nats | ÷ netrpc |",
		"| rpcq | 4000 | 250000 | 0.67× | 0.50× | — |",
		"| baseline-nats | 6000 | 166667 | 1.00× | 0.75× | 16 |", // allocs/op
		"Machine: linux, amd64, Test CPU, ",                      // once, though two runs say it
		"| Empty | 720287981 | 1.39 | 2778 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNoResults(t *testing.T) {
	if err := run(strings.NewReader("PASS\n"), &bytes.Buffer{}); err == nil {
		t.Error("run on output without benchmarks succeeded")
	}
}
