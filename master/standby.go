package master

import (
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/mr"
)

// standby is a master process's mr.MasterStandbyService, registered while
// it stands by and stopped while it leads. Used by one goroutine.
type standby struct {
	nc  *nats.Conn
	log *slog.Logger
	svc micro.Service // nil while not registered
}

// on registers the service, if it is not. A failure only leaves commands
// to say sooner that no master answers.
func (s *standby) on() {
	if s.svc != nil {
		return
	}
	svc, err := micro.AddService(s.nc, micro.Config{Name: mr.MasterStandbyService, Version: "1.0.0",
		Description: "a Drover master standing by to lead"})
	if err != nil {
		s.log.Warn("master: standby service", "error", err)
		return
	}
	s.svc = svc
}

// off stops the service, if it is registered.
func (s *standby) off() {
	if s.svc == nil {
		return
	}
	s.svc.Stop()
	s.svc = nil
}
