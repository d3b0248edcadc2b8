package auth

import (
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/tasks"
)

// The task queue's grants (package tasks, drover task, drover queues).
// Its users trust one another as a queue's users do: whoever may enqueue
// may also take, run and settle tasks, since its records and messages are
// one store that client and server alike read and write. No task runs a
// command: a handler is code its server registered. The master creates
// the streams and buckets (tasks.Ensure).
var (
	taskBuckets = []string{tasks.BucketTasks, tasks.BucketGroups, tasks.BucketSchedules}
	taskStreams = append([]string{tasks.StreamQueue}, mapped(taskBuckets, mr.BucketStream)...)

	// seeTasks is what drover task ls, show and schedules, drover queues,
	// and a tasks.Client's reads take: the records, the queues' depth,
	// and watches of a task's, a group's or every record's changes.
	seeTasks = Grant{
		What: "see general tasks, their results, the queues and the periodic tasks (drover task ls, show, schedules; drover queues)",
		Publish: append(append(
			flatMapped(taskStreams, func(s string) []string {
				return []string{streamAPI("INFO", s), streamAPI("MSG.GET", s), jsAPI + ".DIRECT.GET." + s, directGet(s, ">")}
			}),
			flatMapped(taskBuckets, func(b string) []string {
				s := mr.BucketStream(b)
				return []string{consumerAPI("CREATE", s, "*."+kvKeys(b)), consumerAPI("CREATE", s, "*."+mr.BucketKey(b, "*")), consumerAPI("DELETE", s, "*"), flowControl(s)}
			})...),
			jsAPI+".CONSUMER.LIST."+tasks.StreamQueue, jsAPI+".CONSUMER.NAMES."+tasks.StreamQueue, consumerAPI("INFO", tasks.StreamQueue, "*")),
		Subscribe: []string{inboxes},
	}
	// useTasks is a tasks.Client and a tasks.Server: enqueue, wait for,
	// cancel, re-run and delete tasks, with their groups; declare periodic
	// tasks; take tasks from the queues' consumers, heartbeat, settle and
	// retry them.
	useTasks = Grant{
		What: "enqueue, run and control general tasks, and declare periodic ones (drover task, tasks.Client, tasks.Server)",
		Publish: append(append(append([]string{}, seeTasks.Publish...), mapped(taskBuckets, kvKeys)...),
			tasks.StreamSubjects(), tasks.CancelSubjects(), streamAPI("PURGE", tasks.StreamQueue), streamAPI("MSG.DELETE", tasks.StreamQueue),
			consumerAPI("CREATE", tasks.StreamQueue, "*."+tasks.StreamSubjects()), consumerAPI("MSG.NEXT", tasks.StreamQueue, "*"),
			acks(tasks.StreamQueue, "*")),
		Subscribe: []string{inboxes, tasks.CancelSubjects(), tasks.StreamSubjects()},
	}
	// makeTasks is the master's: it creates the streams and buckets.
	makeTasks = Grant{
		What: "create and update the task queue's streams and buckets (tasks.Ensure)",
		Publish: flatMapped(taskStreams, func(s string) []string {
			return []string{streamAPI("INFO", s), streamAPI("CREATE", s), streamAPI("UPDATE", s)}
		}),
	}
)
