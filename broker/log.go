package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// slogAdapter is the nats-server Logger on top of slog. The stock logger's
// Fatalf exits the process; this one logs at error level and keeps the first
// fatal message so that Start can return it as an error.
type slogAdapter struct {
	log *slog.Logger

	mu    sync.Mutex
	fatal error
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.logf(slog.LevelInfo, format, v) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.logf(slog.LevelWarn, format, v) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.logf(slog.LevelError, format, v) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.logf(slog.LevelDebug, format, v) }
func (a *slogAdapter) Tracef(format string, v ...any)  { a.logf(slog.LevelDebug-4, format, v) }

func (a *slogAdapter) Fatalf(format string, v ...any) {
	a.logf(slog.LevelError, format, v)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fatal == nil {
		a.fatal = fmt.Errorf(format, v...)
	}
}

// fatalErr returns the first fatal message the server logged, if any.
func (a *slogAdapter) fatalErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatal
}

func (a *slogAdapter) logf(level slog.Level, format string, v []any) {
	if !a.log.Enabled(context.Background(), level) {
		return
	}
	a.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}
