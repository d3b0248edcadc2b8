package worker

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/drover-dev/drover/mr"
)

// registryTimeout bounds one put or delete of the worker's entry.
const registryTimeout = 2 * time.Second

// occupy records that slot runs task since now, for the registry, and
// returns what frees the slot.
func (w *Worker) occupy(slot int, task mr.Task, now time.Time) (free func()) {
	w.mu.Lock()
	w.running[slot] = mr.SlotTask{Slot: slot, Job: task.Job, Phase: task.Phase, Index: task.Index, Attempt: task.Attempt, Since: now.UnixNano()}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.running, slot)
		w.mu.Unlock()
	}
}

// Info is the worker's registry entry as it stands: what it puts every
// mr.WorkerReportEvery while Run runs. It is safe for concurrent use.
func (w *Worker) Info() mr.WorkerInfo {
	host, _ := os.Hostname()
	info := mr.WorkerInfo{ID: w.cfg.ID, Host: clipHost(host), PID: os.Getpid(), Version: w.cfg.Version, Slots: w.cfg.Slots,
		Apps: w.cfg.Apps.Names(), Exec: w.cfg.AllowExec, Started: w.started.Load()}
	if len(info.Apps) > mr.MaxWorkerApps {
		info.Apps = info.Apps[:mr.MaxWorkerApps]
	}
	if len(info.Version) > mr.MaxVersionLen {
		info.Version = strings.ToValidUTF8(info.Version[:mr.MaxVersionLen], "")
	}
	w.mu.Lock()
	for _, t := range w.running {
		info.Running = append(info.Running, t)
	}
	w.mu.Unlock()
	slices.SortFunc(info.Running, func(a, b mr.SlotTask) int { return a.Slot - b.Slot })
	return info
}

// clipHost is a host name within mr.MaxHostLen.
func clipHost(host string) string {
	return strings.ToValidUTF8(host[:min(len(host), mr.MaxHostLen)], "")
}

// announce puts the worker's entry in the registry every
// mr.WorkerReportEvery until ctx ends, then deletes it: a worker that
// stops cleanly leaves the registry at once, one that dies when its
// entry's age runs out. A put that fails (the broker restarting, say) is
// said once, and tried again at the next report.
func (w *Worker) announce(ctx context.Context) {
	tick := time.NewTicker(mr.WorkerReportEvery)
	defer tick.Stop()
	failing := false
	for {
		putCtx, cancel := context.WithTimeout(ctx, registryTimeout)
		err := mr.PutWorkerInfo(putCtx, w.store.Registry, w.Info())
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			w.log.Warn("worker: registry entry not put", "error", err)
			failing = true
		case err == nil:
			failing = false
		}
		select {
		case <-ctx.Done():
			delCtx, cancel := context.WithTimeout(context.Background(), registryTimeout)
			w.store.Registry.Delete(delCtx, mr.WorkerKey(w.cfg.ID))
			cancel()
			return
		case <-tick.C:
		}
	}
}
