// Command scrape prints what a Prometheus /metrics endpoint serves, or
// only the series of the metrics named, for a shell without curl:
//
//	scrape URL [METRIC]...
package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: scrape URL [METRIC]...")
		os.Exit(2)
	}
	if err := scrape(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "scrape:", err)
		os.Exit(1)
	}
}

func scrape(url string, names []string) error {
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if line := lines.Text(); wanted(line, names) {
			fmt.Println(line)
		}
	}
	return lines.Err()
}

// wanted reports whether a line of the exposition format is a sample of
// one of names, or of any metric when there are none.
func wanted(line string, names []string) bool {
	if strings.HasPrefix(line, "#") {
		return false
	}
	if len(names) == 0 {
		return true
	}
	name, _, _ := strings.Cut(line, "{")
	name, _, _ = strings.Cut(name, " ")
	for _, n := range names {
		if name == n {
			return true
		}
	}
	return false
}
