// Command crawler is the lecture's web crawler on Drover's task queue: a
// fetch task per URL, whose ID is derived from the URL so that each URL
// is queued once; each fetch queues a fetch of every link it finds into
// the crawl's group, and the crawl ends when the group is done.
//
//	crawler [--pages 200] [--seed 1] [--workers 8] [--url URL] [-v]
//	    runs a broker, a generated site (or crawls URL), workers and the
//	    crawl in this process, and prints the pages found and the time
//	crawler worker --nats URL [--concurrency 8] [--lease 30s]
//	    runs fetch tasks until SIGINT or SIGTERM
//	crawler site [--listen 127.0.0.1:8080] [--pages 200] [--seed 1]
//	    serves the generated site
//	crawler crawl --nats URL [--max-depth 0] [-v] SITE-URL
//	    crawls SITE-URL with the deployment's workers
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/tasks"
)

// defaultRetention keeps a crawl's results, and so its URLs' claims.
const defaultRetention = time.Hour

func main() { cli.Main("crawler", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "worker":
			return runWorker(ctx, args[1:], stderr)
		case "site":
			return runSite(ctx, args[1:], stdout, stderr)
		case "crawl":
			return runCrawl(ctx, args[1:], stdout, stderr)
		}
	}
	return runDemo(ctx, args, stdout, stderr)
}

// siteFlags are the generated site's flags.
func siteFlags(fs *flag.FlagSet) func() (SiteConfig, error) {
	seed := fs.Uint64("seed", 1, "the seed the site is drawn from")
	pages := fs.Int("pages", 200, "how many pages the site links (1 to 100000)")
	return func() (SiteConfig, error) {
		if *pages < 1 || *pages > 100000 {
			return SiteConfig{}, cli.Usagef("--pages %d: want 1 to 100000", *pages)
		}
		return SiteConfig{Seed: *seed, Pages: *pages}, nil
	}
}

// serveSite serves site on a loopback port until ctx ends; it returns
// the site's root URL.
func serveSite(ctx context.Context, site *Site, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: site, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	context.AfterFunc(ctx, func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/", nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crawler", "[flags] | worker | site | crawl", "Crawls a generated site (or --url) with workers on Drover's task queue, all in this process.", stderr)
	site := siteFlags(fs)
	workers := fs.Int("workers", 8, "how many fetches run at once (1 to 1000)")
	root := fs.String("url", "", "crawl this site instead of the generated one")
	maxDepth := fs.Int("max-depth", 0, "follow links this deep at most (0: no limit; default 2 with --url)")
	verbose := fs.Bool("v", false, "print every page found")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cli.Usagef("unexpected argument %q", pos[0])
	}
	cfg, err := site()
	if err != nil {
		return err
	}
	if *workers < 1 || *workers > 1000 {
		return cli.Usagef("--workers %d: want 1 to 1000", *workers)
	}
	if *maxDepth < 0 || *maxDepth > 100 {
		return cli.Usagef("--max-depth %d: want 0 to 100", *maxDepth)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *root == "" {
		if *root, err = serveSite(ctx, NewSite(cfg), "127.0.0.1:0"); err != nil {
			return err
		}
	} else if !isFlagSet(fs, "max-depth") {
		*maxDepth = 2
	}
	u, err := ParseRoot(*root)
	if err != nil {
		return cli.Usagef("--url %.100q: %v", *root, err)
	}
	dir, err := os.MkdirTemp("", "crawler-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := broker.Start(ctx, broker.Config{Port: broker.RandomPort, StoreDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer b.Close()
	nc, err := b.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	c, err := tasks.NewClient(ctx, js, tasks.ClientConfig{Logger: quiet})
	if err != nil {
		return err
	}
	s, err := tasks.NewServer(js, tasks.Config{Queues: map[string]int{Queue: *workers}, Logger: quiet})
	if err != nil {
		return err
	}
	s.Handle(TypeFetch, Handler(c, &http.Client{}))
	// The server is not waited for: its pulls would hold the exit up to
	// five seconds, and every task has ended once Crawl returns.
	go s.Run(ctx)
	res, err := Crawl(ctx, c, "crawl-"+nuid.Next(), u, *maxDepth, defaultRetention)
	if err != nil {
		return err
	}
	printResult(stdout, u.String(), res, *verbose)
	return nil
}

// isFlagSet reports whether flag name was given.
func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := cli.NewBinary("crawler worker", "[flags]", "Runs the crawler's fetch tasks until SIGINT or SIGTERM.", stderr)
	concurrency := fs.Int("concurrency", 8, "how many fetches run at once (1 to 1000)")
	lease := fs.Duration("lease", tasks.DefaultLease, "how long a fetch stays with a worker that stopped heartbeating (100ms to 1h)")
	id := fs.String("id", "", "the worker's name in task records (default host-pid-random)")
	log, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if *concurrency < 1 || *concurrency > 1000 {
		return cli.Usagef("--concurrency %d: want 1 to 1000", *concurrency)
	}
	if *lease < 100*time.Millisecond || *lease > time.Hour {
		return cli.Usagef("--lease %v: want 100ms to 1h", *lease)
	}
	if len(*id) > tasks.MaxTypeLen {
		return cli.Usagef("--id: at most %d bytes", tasks.MaxTypeLen)
	}
	nc, err := fs.NATS.ConnectWait(ctx, "crawler worker", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	c, err := tasks.NewClient(ctx, js, tasks.ClientConfig{Logger: log})
	if err != nil {
		return err
	}
	s, err := tasks.NewServer(js, tasks.Config{Queues: map[string]int{Queue: *concurrency}, Lease: *lease, ID: *id, Logger: log})
	if err != nil {
		return err
	}
	s.Handle(TypeFetch, Handler(c, &http.Client{}))
	log.Info("crawler worker: running fetch tasks", "queue", Queue, "concurrency", *concurrency)
	return s.Run(ctx)
}

func runSite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crawler site", "[flags]", "Serves the generated site until SIGINT or SIGTERM.", stderr)
	site := siteFlags(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "the address to serve on")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cli.Usagef("unexpected argument %q", pos[0])
	}
	cfg, err := site()
	if err != nil {
		return err
	}
	root, err := serveSite(ctx, NewSite(cfg), *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving a site of %d pages at %s\n", cfg.Pages, root)
	<-ctx.Done()
	return nil
}

func runCrawl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("crawler crawl", "[flags] SITE-URL", "Crawls SITE-URL with the deployment's crawler workers; prints the pages found and the time.", stderr)
	var conn cli.NATSFlags
	conn.Register(fs)
	maxDepth := fs.Int("max-depth", 0, "follow links this deep at most (0: no limit)")
	name := fs.String("name", "", "the crawl's name, its group (default crawl-random)")
	retention := fs.Duration("retention", defaultRetention, "keep the crawl's results this long (1s to 30 days)")
	verbose := fs.Bool("v", false, "print every page found")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("crawl takes one SITE-URL")
	}
	if *maxDepth < 0 || *maxDepth > 100 {
		return cli.Usagef("--max-depth %d: want 0 to 100", *maxDepth)
	}
	if *retention < time.Second || *retention > 30*24*time.Hour {
		return cli.Usagef("--retention %v: want 1s to 720h", *retention)
	}
	if *name == "" {
		*name = "crawl-" + nuid.Next()
	}
	if len(*name) > tasks.MaxQueueLen || strings.ContainsAny(*name, ". *>") {
		return cli.Usagef("--name %.80q: at most %d letters, digits, '-', '_' or '='", *name, tasks.MaxQueueLen)
	}
	u, err := ParseRoot(pos[0])
	if err != nil {
		return cli.Usagef("%.100q: %v", pos[0], err)
	}
	nc, err := conn.Connect("crawler crawl")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	c, err := tasks.NewClient(ctx, js, tasks.ClientConfig{})
	if err != nil {
		return err
	}
	res, err := Crawl(ctx, c, *name, u, *maxDepth, *retention)
	if errors.Is(err, tasks.ErrInvalidTask) {
		return cli.Usagef("%v", err)
	}
	if err != nil {
		return err
	}
	printResult(stdout, u.String(), res, *verbose)
	return nil
}
