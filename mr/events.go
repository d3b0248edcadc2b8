package mr

// EventKind names what an event reports.
type EventKind string

// Event kinds, the last token of an event's subject.
const (
	EventStarted   EventKind = "started"   // a worker began an attempt
	EventProgress  EventKind = "progress"  // an attempt's fraction done
	EventFailed    EventKind = "failed"    // an attempt failed; Error says why
	EventInputLost EventKind = "inputlost" // a reducer could not read a committed map output
	EventPublished EventKind = "published" // the master published an attempt but the first; Why says why
)
