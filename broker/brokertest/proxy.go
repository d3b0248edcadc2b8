package brokertest

import (
	"net"
	"sync"
	"time"
)

// proxy forwards TCP connections from its own loopback port to a target
// address. Cut makes it silent without closing anything, as a network
// partition is: bytes in flight wait, new connections are accepted and
// wait, and a side that closes is not told to the other; Mend lets it all
// through again. Drop closes every connection, as the death of the
// process at the target does. Its methods are safe for concurrent use.
type proxy struct {
	ln     net.Listener
	target func() string // the address to dial, read at each connection

	mu     sync.Mutex
	open   chan struct{} // closed while traffic flows
	conns  map[net.Conn]bool
	closed bool
}

// newProxy listens on a random loopback port and forwards to target.
func newProxy(target func() string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]bool{}}
	close(p.open)
	go p.accept()
	return p, nil
}

// addr is the host:port the proxy listens on.
func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

// serve waits for the proxy to be open, dials the target, and copies both
// ways until one side ends.
func (p *proxy) serve(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	if !p.wait() {
		p.closeConns(c)
		return
	}
	s, err := net.DialTimeout("tcp", p.target(), time.Second)
	if err != nil || !p.track(s) {
		if s != nil {
			s.Close()
		}
		p.closeConns(c)
		return
	}
	go p.copy(s, c)
	p.copy(c, s)
}

// copy forwards src to dst; while the proxy is cut it holds what it read,
// and the end of src reaches dst only once the proxy is open.
func (p *proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if !p.wait() {
			break
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.closeConns(src, dst)
}

// wait blocks while the proxy is cut, and reports whether it is still in
// service.
func (p *proxy) wait() bool {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	<-open
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed
}

// track registers c to be closed by Drop and close; it reports false once
// the proxy is closed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) closeConns(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

// setCut cuts the proxy (true) or opens it again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		if cut {
			p.open = make(chan struct{})
		}
	default:
		if !cut {
			close(p.open)
		}
	}
}

// drop closes every connection through the proxy, both sides.
func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// close stops the proxy for good.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	select {
	case <-p.open:
	default:
		close(p.open)
	}
	p.mu.Unlock()
	p.drop()
}
