package mr

import "errors"

var (
	// ErrUnknownApp means a job names an app nobody registered.
	ErrUnknownApp = errors.New("mr: unknown app")
	// ErrInvalidSpec wraps every job spec validation error.
	ErrInvalidSpec = errors.New("mr: invalid job spec")
	// ErrInvalidTask wraps every error of a task message that breaks the
	// protocol or its limits (see DecodeTask).
	ErrInvalidTask = errors.New("mr: invalid task")
	// ErrInvalidWorkerInfo wraps every error of a worker registry entry
	// that breaks its bounds (see DecodeWorkerInfo).
	ErrInvalidWorkerInfo = errors.New("mr: invalid worker registry entry")
	// ErrNoDeployment means the streams and buckets of Drover are not on
	// this NATS, for a process that binds to them (see Bind).
	ErrNoDeployment = errors.New("mr: no Drover deployment on this NATS")
	// ErrOutputChanged means an output object is not the one its task's
	// commit recorded: someone rewrote it after the task.
	ErrOutputChanged = errors.New("mr: output changed since its task wrote it")
	// ErrReplicas means the replication asked for cannot be had on this
	// NATS: more replicas than its cluster has servers, or more than one
	// on a server outside any cluster.
	ErrReplicas = errors.New("mr: replicas")
	// ErrCorrupt means intermediate data failed to decode.
	ErrCorrupt = errors.New("mr: corrupt intermediate data")
)
