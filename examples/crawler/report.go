package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

// printResult writes what a crawl found: a line per page with -v, then
// the counts, the fetches per page and the time.
func printResult(w io.Writer, root string, res *Result, verbose bool) {
	broken, failed := 0, 0
	fetches := map[int]int{}
	for _, u := range slices.Sorted(maps.Keys(res.Pages)) {
		p := res.Pages[u]
		status := strconv.Itoa(p.Status)
		switch {
		case p.Status == 0:
			failed++
			status = "failed: " + p.Error
		case p.Status >= 400:
			broken++
		}
		fetches[p.Fetches]++
		if verbose {
			fmt.Fprintf(w, "%s  %s  fetched %d×\n", u, status, p.Fetches)
		}
	}
	fmt.Fprintf(w, "crawled %s in %v: %d pages found, %d broken links, %d failed\n",
		root, res.Elapsed.Round(time.Millisecond), len(res.Pages), broken, failed)
	fmt.Fprint(w, "fetches per page:")
	for i, n := range slices.Sorted(maps.Keys(fetches)) {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %d fetched %d×", sep, fetches[n], n)
	}
	fmt.Fprintln(w)
}
