package rpcq

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Large replies.
const (
	// bulkReplySize is the size from which a reply goes out on a
	// connection of its own. nats.go keeps a connection's write buffer as
	// large as the largest message it ever sent, so one 10 MiB reply on
	// the service's connection would pin 10 MiB for the server's life.
	bulkReplySize = 64 << 10
	// bulkIdle is how long the connection for large replies stays open
	// after the last, and so how long its buffer outlives them.
	bulkIdle = time.Second
	// bulkFlushTimeout bounds the wait for a large reply to leave.
	bulkFlushTimeout = 5 * time.Second
)

// bulkConn lends a connection to the service's broker for large replies,
// dialled with the service connection's options on first use and closed
// once idle for bulkIdle. It is safe for concurrent use.
type bulkConn struct {
	src *nats.Conn // whose options it dials with

	mu     sync.Mutex
	nc     *nats.Conn
	users  int
	idle   *time.Timer
	closed bool
}

// dial connects as src did, without src's callbacks: this connection's
// comings and goings are nobody's business.
func (b *bulkConn) dial() (*nats.Conn, error) {
	opts := b.src.Opts
	opts.Name += " (large replies)"
	opts.AllowReconnect = false
	opts.ClosedCB, opts.DisconnectedCB, opts.DisconnectedErrCB = nil, nil, nil
	opts.ConnectedCB, opts.ReconnectedCB, opts.ReconnectErrCB = nil, nil, nil
	opts.DiscoveredServersCB, opts.AsyncErrorCB, opts.LameDuckModeHandler = nil, nil, nil
	return opts.Connect()
}

// publish sends m on the bulk connection and waits until the broker has
// it, so that closing the connection cannot lose it.
func (b *bulkConn) publish(m *nats.Msg) error {
	nc, err := b.acquire()
	if err != nil {
		return err
	}
	defer b.release()
	if err := nc.PublishMsg(m); err != nil {
		return err
	}
	return nc.FlushTimeout(bulkFlushTimeout)
}

func (b *bulkConn) acquire() (*nats.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nats.ErrConnectionClosed
	}
	if b.idle != nil {
		b.idle.Stop()
	}
	if b.nc == nil || b.nc.IsClosed() {
		nc, err := b.dial()
		if err != nil {
			return nil, err
		}
		b.nc = nc
	}
	b.users++
	return b.nc, nil
}

func (b *bulkConn) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users--; b.users > 0 {
		return
	}
	if b.idle == nil {
		b.idle = time.AfterFunc(bulkIdle, b.closeIfIdle)
		return
	}
	b.idle.Reset(bulkIdle)
}

func (b *bulkConn) closeIfIdle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users == 0 && b.nc != nil {
		b.nc.Close()
		b.nc = nil
	}
}

// close closes the connection for good; replies still being sent on it
// fail.
func (b *bulkConn) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.idle != nil {
		b.idle.Stop()
	}
	if b.nc != nil {
		b.nc.Close()
		b.nc = nil
	}
}
