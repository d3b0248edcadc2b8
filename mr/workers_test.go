package mr_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

func validWorker() mr.WorkerInfo {
	return mr.WorkerInfo{ID: "w-1", Host: "box", PID: 42, Version: "worker v1", Slots: 2, Apps: []string{"streaming", "wordcount"},
		Exec: true, Running: []mr.SlotTask{{Slot: 1, Job: "j-1", Phase: mr.PhaseMap, Index: 3, Attempt: 2, Since: 5}}, Started: 1}
}

// TestDecodeWorkerInfo: every field of an entry from the bus is bounded,
// and an entry must be stored under its own ID.
func TestDecodeWorkerInfo(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		change func(w *mr.WorkerInfo)
		raw    string // used instead of the worker when set
		field  string // "" for a valid entry
	}{
		{name: "valid", key: "w-1", change: func(*mr.WorkerInfo) {}},
		{name: "other key", key: "w-2", change: func(*mr.WorkerInfo) {}, field: "id"},
		{name: "bad id", key: "w.1", change: func(w *mr.WorkerInfo) { w.ID = "w.1" }, field: "id"},
		{name: "long host", key: "w-1", change: func(w *mr.WorkerInfo) { w.Host = strings.Repeat("h", mr.MaxHostLen+1) }, field: "host"},
		{name: "control host", key: "w-1", change: func(w *mr.WorkerInfo) { w.Host = "a\x1b[2Jb" }, field: "host"},
		{name: "negative pid", key: "w-1", change: func(w *mr.WorkerInfo) { w.PID = -1 }, field: "pid"},
		{name: "long version", key: "w-1", change: func(w *mr.WorkerInfo) { w.Version = strings.Repeat("v", mr.MaxVersionLen+1) }, field: "version"},
		{name: "no slots", key: "w-1", change: func(w *mr.WorkerInfo) { w.Slots, w.Running = 0, nil }, field: "slots"},
		{name: "many slots", key: "w-1", change: func(w *mr.WorkerInfo) { w.Slots = mr.MaxWorkerSlots + 1 }, field: "slots"},
		{name: "many apps", key: "w-1", change: func(w *mr.WorkerInfo) { w.Apps = make([]string, mr.MaxWorkerApps+1) }, field: "apps"},
		{name: "bad app", key: "w-1", change: func(w *mr.WorkerInfo) { w.Apps = []string{"a b"} }, field: "apps[0]"},
		{name: "more tasks than slots", key: "w-1", change: func(w *mr.WorkerInfo) { w.Slots = 1; w.Running = append(w.Running, w.Running[0]) }, field: "running"},
		{name: "slot out of range", key: "w-1", change: func(w *mr.WorkerInfo) { w.Running[0].Slot = 2 }, field: "running[0].slot"},
		{name: "slot twice", key: "w-1", change: func(w *mr.WorkerInfo) { w.Running = append(w.Running, w.Running[0]) }, field: "running[1].slot"},
		{name: "bad job", key: "w-1", change: func(w *mr.WorkerInfo) { w.Running[0].Job = "" }, field: "running[0].job"},
		{name: "bad phase", key: "w-1", change: func(w *mr.WorkerInfo) { w.Running[0].Phase = "shuffle" }, field: "running[0].phase"},
		{name: "bad index", key: "w-1", change: func(w *mr.WorkerInfo) { w.Running[0].Index = -1 }, field: "running[0].index"},
		{name: "bad attempt", key: "w-1", change: func(w *mr.WorkerInfo) { w.Running[0].Attempt = -1 }, field: "running[0].attempt"},
		{name: "not json", key: "w-1", raw: "{", field: "-"},
		{name: "too big", key: "w-1", raw: `{"host":"` + strings.Repeat("h", mr.MaxWorkerInfoBytes) + `"}`, field: "entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.raw == "" {
				w := validWorker()
				tt.change(&w)
				data, _ = json.Marshal(w)
			}
			got, err := mr.DecodeWorkerInfo(tt.key, data)
			if tt.field == "" {
				if err != nil || got.ID != tt.key || got.Busy() != 1 {
					t.Fatalf("DecodeWorkerInfo(%s) = %+v, %v, want a valid entry", tt.name, got, err)
				}
				return
			}
			if !errors.Is(err, mr.ErrInvalidWorkerInfo) {
				t.Fatalf("DecodeWorkerInfo(%s) = %v, want ErrInvalidWorkerInfo", tt.name, err)
			}
			var se *mr.SpecError
			if tt.field != "-" && (!errors.As(err, &se) || se.Field != tt.field) {
				t.Fatalf("DecodeWorkerInfo(%s) = %v, want an error of field %s", tt.name, err, tt.field)
			}
		})
	}
}

func TestCanRun(t *testing.T) {
	w := validWorker()
	tests := []struct {
		app       string
		exec      bool
		allowExec bool
		want      bool
	}{
		{"wordcount", false, false, true},
		{"streaming", true, true, true},
		{"streaming", true, false, false},
		{"grep", false, true, false},
	}
	for _, tt := range tests {
		w.Exec = tt.allowExec
		if got := w.CanRun(tt.app, tt.exec); got != tt.want {
			t.Errorf("CanRun(%s, %v) with Exec %v = %v, want %v", tt.app, tt.exec, tt.allowExec, got, tt.want)
		}
	}
}

// TestListWorkers: ListWorkers reads what workers put, stamped with when
// the broker stored it, and leaves out what fails its checks.
func TestListWorkers(t *testing.T) {
	b := brokertest.Start(t)
	nc := b.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := mr.Open(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster})
	if err != nil {
		t.Fatal(err)
	}
	if got, skipped, err := mr.ListWorkers(ctx, store.Registry); err != nil || len(got) != 0 || skipped != 0 {
		t.Fatalf("ListWorkers(empty) = %v, %d, %v, want none", got, skipped, err)
	}
	w1, w2 := validWorker(), validWorker()
	w2.ID, w2.Running = "w-0", nil
	for _, w := range []mr.WorkerInfo{w1, w2} {
		if err := mr.PutWorkerInfo(ctx, store.Registry, w); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Registry.Put(ctx, "hostile", []byte(`{"id":"hostile","slots":-1}`)); err != nil {
		t.Fatal(err)
	}
	bad := validWorker()
	bad.Slots = 0
	if err := mr.PutWorkerInfo(ctx, store.Registry, bad); !errors.Is(err, mr.ErrInvalidWorkerInfo) {
		t.Fatalf("PutWorkerInfo(no slots) = %v, want ErrInvalidWorkerInfo", err)
	}
	got, skipped, err := mr.ListWorkers(ctx, store.Registry)
	if err != nil || len(got) != 2 || skipped != 1 {
		t.Fatalf("ListWorkers = %+v, %d, %v, want w-0 and w-1, 1 skipped", got, skipped, err)
	}
	if got[0].ID != "w-0" || got[1].ID != "w-1" || got[1].Busy() != 1 || time.Since(got[1].Seen) > time.Minute {
		t.Fatalf("ListWorkers = %+v, want w-0 then w-1 with its task, seen just now", got)
	}
}

// FuzzDecodeWorkerInfo feeds arbitrary registry entries to
// DecodeWorkerInfo, as `drover workers` and the master read them: an entry
// within every bound, or an ErrInvalidWorkerInfo, never a panic.
func FuzzDecodeWorkerInfo(f *testing.F) {
	valid, _ := json.Marshal(validWorker())
	f.Add("w-1", valid)
	f.Add("w-1", []byte(`{"id":"w-1","slots":1,"running":[{"slot":0,"job":"j","phase":"map","index":-1}]}`))
	f.Add("w-1", []byte(`{"id":"w-1","slots":2,"apps":["a","a b"],"host":"\u001b[2J"}`))
	f.Add("", []byte(`null`))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		w, err := mr.DecodeWorkerInfo(key, data)
		if err != nil {
			if !errors.Is(err, mr.ErrInvalidWorkerInfo) {
				t.Fatalf("DecodeWorkerInfo error %v is not ErrInvalidWorkerInfo", err)
			}
			return
		}
		if w.ID != key || !mr.ValidWorkerID(w.ID) || w.Slots < 1 || w.Slots > mr.MaxWorkerSlots || w.Busy() > w.Slots ||
			len(w.Apps) > mr.MaxWorkerApps || len(w.Host) > mr.MaxHostLen || len(w.Version) > mr.MaxVersionLen {
			t.Fatalf("DecodeWorkerInfo accepted %+v, past a bound", w)
		}
	})
}
