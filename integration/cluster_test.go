package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

// deployCluster is deploy on a three-node cluster in this process: a
// master with --replicas 3 and, once it leads, worker processes, each
// given every node's URL.
func deployCluster(t *testing.T, workers int) (*deployment, *brokertest.Cluster) {
	t.Helper()
	d, c := clusterMaster(t)
	d.waitLeading()
	for i := range workers {
		d.workers = append(d.workers, d.startWorker(i))
	}
	return d, c
}

// clusterMaster runs a three-node cluster and a master on it, and
// connects the test's client.
func clusterMaster(t *testing.T) (*deployment, *brokertest.Cluster) {
	t.Helper()
	c := brokertest.StartCluster(t, 3)
	d := deployOn(t, c.URLs())
	d.masters = append(d.masters, d.startClusterMaster())
	return d, c
}

func (d *deployment) startClusterMaster() *process {
	return start(d.t, "master", "--nats", d.url, "--replicas", "3", "--lease", lease, "--leader-ttl", "1s", "--log-level", "info")
}

// tasksLeader is the index of the node that leads the task stream.
func tasksLeader(t *testing.T, c *brokertest.Cluster) int {
	t.Helper()
	return streamLeader(t, c, mr.StreamTasks)
}

// streamLeader is the index of the node that leads stream.
func streamLeader(t *testing.T, c *brokertest.Cluster, stream string) int {
	t.Helper()
	js, _ := jetstream.New(c.Connect())
	leader := -1
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = c.Index(info.Cluster.Leader)
		return leader >= 0
	}, "a leader of stream %s", stream)
	return leader
}

// checkReplicated checks that the task stream has a replica on every node.
func checkReplicated(t *testing.T, d *deployment) {
	t.Helper()
	js, _ := jetstream.New(d.nc)
	ctx := timeout(t, 30*time.Second)
	s, err := js.Stream(ctx, mr.StreamTasks)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Replicas; got != 3 {
		t.Errorf("stream %s has %d replicas, want 3", mr.StreamTasks, got)
	}
}

// checkAttempts checks that no task started an attempt past the job's
// attempt limit, the default.
func checkAttempts(t *testing.T, d *deployment, id string) {
	t.Helper()
	runs := map[string]int{}
	for _, ev := range clusterEvents(t, d, id, mr.EventStarted) {
		task := fmt.Sprintf("%s/%d", ev.Phase, ev.Index)
		runs[task]++
		if ev.Attempt > mr.DefaultMaxAttempts {
			t.Errorf("task %s started attempt %d, past the limit of %d", task, ev.Attempt, mr.DefaultMaxAttempts)
		}
	}
	total, most := 0, 0
	for _, n := range runs {
		total += n
		most = max(most, n)
	}
	t.Logf("%d attempts started for %d tasks, at most %d of one task", total, len(runs), most)
}

// TestClusterJob: a word count on a three-node cluster, every stream and
// bucket replicated on the three, gives the sequential run's output.
func TestClusterJob(t *testing.T) {
	files, inputs := books(t)
	d, _ := deployCluster(t, 3)
	id := d.submit(files, "--app", "wordcount", "-r", "4", "--split-size", "65536")
	d.wait(id, nil)
	d.checkOutput(id, "wordcount", inputs, 4)
	checkReplicated(t, d)
	checkAttempts(t, d, id)
}

// clusterEvents is d.events on a cluster, where a consumer made a moment
// ago may not answer yet: it reads again, on a connection of its own as
// a command would, until a read ends without error.
func clusterEvents(t *testing.T, d *deployment, job string, kind mr.EventKind) []mr.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := readEvents(d.url, job, kind)
		if err == nil {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of job %s: %v", job, err)
		}
		time.Sleep(100 * time.Millisecond) // a consumer's next try, not a wait for a condition
	}
}

// readEvents reads every event of the job's kind the stream holds, one
// message at a time by its subject, as a stream's own get: no consumer,
// which a cluster restarted whole may take long to place.
func readEvents(url, job string, kind mr.EventKind) ([]mr.Event, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, mr.StreamEvents)
	if err != nil {
		return nil, err
	}
	var evs []mr.Event
	for seq := uint64(1); ; {
		msg, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(mr.EventSubject(job, kind)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return evs, nil
		}
		if err != nil {
			return nil, err
		}
		var ev mr.Event
		if err := json.Unmarshal(msg.Data, &ev); err != nil {
			return nil, err
		}
		evs = append(evs, ev)
		seq = msg.Sequence + 1
	}
}
