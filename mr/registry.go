package mr

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// NewApp makes an app from a job's arguments; bad arguments are an error
// the user sees.
type NewApp func(args []string) (App, error)

// Registry maps app names to their constructors. Workers and masters share
// the built-in apps (package apps) and add their users' own. It is safe
// for concurrent use.
type Registry struct {
	mu   sync.RWMutex
	apps map[string]NewApp
}

// Register adds an app; registering a name twice is an error.
func (r *Registry) Register(name string, newApp NewApp) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.apps == nil {
		r.apps = map[string]NewApp{}
	}
	if _, dup := r.apps[name]; dup {
		return fmt.Errorf("mr: app %q registered twice", name)
	}
	r.apps[name] = newApp
	return nil
}

// New makes the named app with args.
func (r *Registry) New(name string, args []string) (App, error) {
	r.mu.RLock()
	newApp, ok := r.apps[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownApp, name, r.Names())
	}
	app, err := newApp(args)
	if err != nil {
		return nil, fmt.Errorf("mr: app %s: %w", name, err)
	}
	return app, nil
}

// Names lists the registered apps, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.apps))
}
