package master

import "context"

// Term is a context that ends with the master's term: when Run returns,
// when Run's context ends, or when the leader lease is lost (RunLeader
// ends Run's context then). Work that only the leader may do, such as
// enqueuing periodic tasks, runs under it.
func (m *Master) Term() context.Context { return m.term }
