package dashboard

import "errors"

var (
	// ErrInvalidConfig wraps every error of New and NewJetStream about
	// their Config.
	ErrInvalidConfig = errors.New("dashboard: invalid config")
	// ErrNoJob is a Source's error for a job it does not know.
	ErrNoJob = errors.New("dashboard: no such job")
)
