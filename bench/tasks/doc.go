// Package tasks compares Drover's task queue with asynq on Redis, in one
// Go benchmark run: both enqueue the same number of empty tasks from 10
// producers and run them with 10 workers, tasks durable on disk on both
// sides, fsynced every second (Redis's appendfsync everysec, JetStream's
// sync_interval 1s).
//
// It is a module of its own, so that asynq, which is not a dependency of
// Drover, stays out of Drover's module. It needs redis-server on the
// PATH, and starts it on a loopback port of its own:
//
//	make bench-tasks
package tasks
