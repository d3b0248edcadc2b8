package rpcq

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/micro"
)

// modeRefresh is how old a service's published modes may be before a call
// to a method they do not list asks the service again.
const modeRefresh = 10 * time.Second

// serviceModes is what a service published of its methods' modes.
type serviceModes struct {
	modes   map[string]Mode
	fetched time.Time
}

// modeOf is the mode of a call that neither the call nor the client's
// configuration gives: what the service publishes in its endpoints'
// metadata, asked once per service and kept. A service that does not
// answer leaves the call AtMostOnce, the mode that promises least.
func (c *Client) modeOf(ctx context.Context, service, method string) Mode {
	c.mu.Lock()
	known, ok := c.services[service]
	c.mu.Unlock()
	if ok {
		if m, listed := known.modes[method]; listed || time.Since(known.fetched) < modeRefresh {
			return m
		}
	}
	modes := c.fetchModes(ctx, service)
	if modes == nil {
		return AtMostOnce
	}
	c.mu.Lock()
	c.services[service] = serviceModes{modes: modes, fetched: time.Now()}
	c.mu.Unlock()
	return modes[method]
}

// fetchModes asks one instance of service for its endpoints' modes.
func (c *Client) fetchModes(ctx context.Context, service string) map[string]Mode {
	subject, err := micro.ControlSubject(micro.InfoVerb, service, "")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, subject, nil)
	if err != nil {
		return nil
	}
	var info micro.Info
	if json.Unmarshal(m.Data, &info) != nil {
		return nil
	}
	modes := map[string]Mode{}
	for _, ep := range info.Endpoints {
		if mode, err := ParseMode(ep.Metadata[MetadataMode]); err == nil {
			modes[ep.Name] = mode
		}
	}
	return modes
}
