// Package metricstest reads what a /metrics endpoint serves, for tests.
package metricstest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape fetches url (http://host:port/metrics) and returns every sample
// by its series, as Key names it: a counter's or gauge's value, and a
// histogram's _count and _sum. An error fails t.
func Scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	got, err := TryScrape(url)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TryScrape is Scrape returning its error, for polls.
func TryScrape(url string) (map[string]float64, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	samples := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := labelPairs(m.GetLabel())
			switch {
			case m.Counter != nil:
				samples[Key(name, labels...)] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				samples[Key(name, labels...)] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				samples[Key(name, labels...)] = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				samples[Key(name+"_count", labels...)] = float64(m.GetHistogram().GetSampleCount())
				samples[Key(name+"_sum", labels...)] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return samples, nil
}

func labelPairs(pairs []*dto.LabelPair) []string {
	var kv []string
	for _, p := range pairs {
		kv = append(kv, p.GetName(), p.GetValue())
	}
	return kv
}

// Key names a series: name{label="value",...}, its labels sorted by
// name; labels are name, value pairs.
func Key(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}
