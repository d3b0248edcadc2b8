// Command master runs Drover's MapReduce master on a NATS server with
// JetStream until SIGINT or SIGTERM: it serves the Master rpcq service
// (Submit, Status, List, Cancel) and the time service.
//
//	master [--nats URL] [--replicas 1] [--lease 30s] [--leader-ttl 5s] [--retention 24h] [--metrics ADDR] [--schedules]
//
// Run several for failover: one leads, holding a lease in the jobs bucket;
// the others stand by, and one takes over within a few leader TTLs of the
// leader's death, rebuilding the state from the buckets and streams.
// With --schedules, the leader also enqueues the task queue's periodic
// tasks (see tasks.Scheduler).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/tasks"
)

func main() { cli.Main("master", run, "master: ") }

const description = `Runs Drover's MapReduce master: it serves the Master rpcq service (Submit,
Status, List, Cancel) and the time workers judge deadlines by. Run several
for failover: one leads, the others stand by.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewBinary("master", "[flags]", description, stderr)
	replicas := fs.Int("replicas", 1, "replicas of every stream and bucket: 1 on one server, 3 on a cluster")
	lease := fs.Duration("lease", mr.DefaultLease, "how long a silent worker keeps a task")
	leaderTTL := fs.Duration("leader-ttl", master.DefaultLeaderTTL, "how long a silent leader keeps its leadership before a standby takes over")
	retention := fs.Duration("retention", master.DefaultRetention, "how long a map output no job uses is kept for later jobs to reuse")
	schedules := fs.Bool("schedules", false, "while leading, enqueue the periodic tasks declared in the bucket "+tasks.BucketSchedules+" (drover task schedule)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (host:port; default: none)")
	log, err := fs.Parse(args)
	if err != nil {
		return err
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"lease", *lease}, {"leader-ttl", *leaderTTL}, {"retention", *retention}} {
		if d.value <= 0 {
			return cli.Usagef("--%s %v: want a positive duration", d.flag, d.value)
		}
	}
	if *replicas < 1 || *replicas > 5 {
		return cli.Usagef("--replicas %d: want 1 to 5", *replicas)
	}
	reg := apps.Registry(false) // the master checks specs; it runs nothing
	// The collectors outlive each term of leadership: the gauges ask
	// whichever master leads now.
	var current master.Current
	promReg := metrics.NewRegistry()
	counts, err := metrics.NewMaster(promReg, &current)
	if err != nil {
		return err
	}
	stopMetrics, err := metrics.Start(ctx, *metricsAddr, promReg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	nc, err := fs.NATS.ConnectWait(ctx, "drover master", log)
	if err != nil {
		return err
	}
	defer nc.Drain()
	store, err := mr.OpenWait(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Replicas: *replicas, Lease: *lease, Logger: log}, 0,
		func(err error) { log.Info("master: waiting for JetStream to set up the deployment", "error", err) })
	if errors.Is(err, mr.ErrReplicas) {
		return cli.Usagef("--replicas %d: %v", *replicas, err)
	}
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s-%d", host, os.Getpid())
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	taskStore := tasks.StoreConfig{Replicas: *replicas}
	if err := ensureTaskQueue(ctx, js, taskStore, log); err != nil {
		return err
	}
	var sched *tasks.Scheduler
	if *schedules {
		if sched, err = tasks.NewScheduler(js, tasks.SchedulerConfig{Store: taskStore, Logger: log}); err != nil {
			return err
		}
	}
	return master.RunLeader(ctx, store, holder, *leaderTTL, log, func() (*master.Master, error) {
		m, err := master.New(nc, store, master.Config{Apps: reg, Logger: log, Retention: *retention, HoldJobs: true,
			Metrics: counts, Registerer: promReg})
		if err == nil {
			current.Set(m)
			if sched != nil {
				go sched.Run(m.Term()) // enqueues periodic tasks for as long as this master leads
			}
		}
		return m, err
	})
}

// ensureTaskQueue makes the task queue's streams and buckets, as the
// master makes the MapReduce ones: under drover auth init's permissions
// no other role may create a stream. A JetStream that does not answer for
// a moment (a cluster electing its leaders) is asked again.
func ensureTaskQueue(ctx context.Context, js jetstream.JetStream, cfg tasks.StoreConfig, log *slog.Logger) error {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := tasks.Ensure(ctx, js, cfg)
		if err == nil || !mr.Retryable(ctx, err) {
			return err
		}
		log.Info("master: waiting for JetStream to set up the task queue", "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
