// Package local runs a whole Drover deployment in one process: an
// embedded broker with its store in a temporary directory, a master and
// workers. It is `drover run`'s engine, and what tests and benchmarks use
// for a real job without separate processes. The broker listens on a
// random loopback port and admits only clients that hold its random token
// (URL carries it), so that no other user of the machine can reach a
// deployment that may run commands.
package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/worker"
)

// Config describes a local deployment.
type Config struct {
	Workers int          // worker processes' worth of workers (default 2)
	Slots   int          // slots per worker (default 1)
	Apps    *mr.Registry // required
	Logger  *slog.Logger // default: discard
	// AllowExec lets the workers take the tasks of apps that run
	// commands (worker.Config.AllowExec); Apps must allow them too.
	AllowExec bool
	// SlowWorkers of the workers take SlowFactor times as long over each
	// task: stragglers, for benchmarks of backup tasks.
	SlowWorkers int
	SlowFactor  float64
	// SharedRoots are the directories whose files the workers read as
	// path inputs, in place (worker.Config.SharedRoots): `drover run`
	// names its input files' directories. None by default.
	SharedRoots []string
	// Conn, if not nil, is the NATS connection the master and workers
	// run on, a cluster's say, in place of a broker of their own; the
	// caller keeps it and closes it after the Cluster.
	Conn *nats.Conn
	// Replicas of the streams and buckets made on Conn (default 1).
	Replicas int
	// Metrics, if not nil, receives the master's and the workers'
	// collectors (package metrics), each worker's labelled with its ID.
	Metrics prometheus.Registerer
}

// Cluster is a running local deployment. Close it.
type Cluster struct {
	Broker *broker.Broker
	NC     *nats.Conn
	Store  *mr.Store
	Master *master.Master

	dir      string
	token    string
	borrowed bool // NC is the caller's
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Start runs a broker, a master and cfg.Workers workers; with cfg.Conn, a
// master and workers on it.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Conn != nil {
		c := &Cluster{NC: cfg.Conn, borrowed: true}
		if err := c.start(ctx, cfg, log); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	dir, err := os.MkdirTemp("", "drover-local-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	c.token = rand.Text()
	bc := broker.Config{Host: "127.0.0.1", Port: broker.RandomPort, StoreDir: dir, Token: c.token, Logger: log}
	if c.Broker, err = broker.Start(ctx, bc); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(ctx, cfg, log); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, cfg Config, log *slog.Logger) error {
	var err error
	if c.NC == nil {
		if c.NC, err = c.Broker.Connect(); err != nil {
			return err
		}
	}
	if c.Store, err = mr.OpenWait(ctx, c.NC, mr.StoreConfig{Role: mr.RoleMaster, Replicas: cfg.Replicas}, 0, nil); err != nil {
		return err
	}
	mcfg := master.Config{Apps: cfg.Apps, Logger: log, HoldJobs: true}
	var current master.Current
	if cfg.Metrics != nil {
		if mcfg.Metrics, err = metrics.NewMaster(cfg.Metrics, &current); err != nil {
			return err
		}
		mcfg.Registerer = cfg.Metrics
	}
	if c.Master, err = master.New(c.NC, c.Store, mcfg); err != nil {
		return err
	}
	current.Set(c.Master)
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Go(func() {
		if err := c.Master.Run(runCtx); err != nil {
			log.Error("local: master", "error", err)
		}
	})
	for i := range cmp.Or(cfg.Workers, 2) {
		wc := worker.Config{ID: fmt.Sprintf("local-%d", i), Slots: cfg.Slots, Apps: cfg.Apps, AllowExec: cfg.AllowExec, Logger: log, SharedRoots: cfg.SharedRoots}
		if i < cfg.SlowWorkers {
			wc.SlowFactor = cfg.SlowFactor
		}
		if cfg.Metrics != nil {
			if wc.Metrics, err = metrics.NewWorker(prometheus.WrapRegistererWith(prometheus.Labels{"worker": wc.ID}, cfg.Metrics)); err != nil {
				return err
			}
		}
		w, err := worker.New(c.Store, wc)
		if err != nil {
			return err
		}
		c.wg.Go(func() { w.Run(runCtx) })
	}
	return nil
}

// URL is the broker's URL with its token, for clients of this process's
// user. It is a secret: print it only where the user asks.
func (c *Cluster) URL() string {
	if c.Broker == nil {
		return c.NC.ConnectedUrl()
	}
	return "nats://" + c.token + "@" + strings.TrimPrefix(c.Broker.ClientURL(), "nats://")
}

// Close stops the workers, the master and the broker, and removes the
// store. It is idempotent.
func (c *Cluster) Close() {
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
		c.cancel = nil
	}
	if c.NC != nil && !c.borrowed {
		c.NC.Close()
	}
	if c.Broker != nil {
		c.Broker.Close()
		os.RemoveAll(c.dir)
	}
}
