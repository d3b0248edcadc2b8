package rpcq

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mathrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Client defaults.
const (
	// DefaultTimeout bounds a call whose context has no deadline.
	DefaultTimeout = 10 * time.Second
	// DefaultRetryInterval is how long a retrying mode waits for a reply
	// before it sends the request again; the wait doubles on each resend.
	DefaultRetryInterval = 250 * time.Millisecond
	// probeTimeout bounds the unknown-method check after "no responders".
	probeTimeout = 250 * time.Millisecond
)

// ClientConfig describes a client. Zero fields take their defaults.
type ClientConfig struct {
	// Timeout bounds calls whose context has no deadline (default DefaultTimeout).
	Timeout time.Duration
	// RetryInterval is the first wait for a reply before a retrying mode
	// resends (default DefaultRetryInterval).
	RetryInterval time.Duration
	// Codec encodes requests (default Msgpack).
	Codec Codec
	// Modes gives the delivery semantics of methods by "Service.Method".
	// For a method not listed, and a call without WithMode, the client
	// asks the service once for the modes it publishes ($SRV.INFO).
	Modes map[string]Mode
	// SubjectPrefix replaces "rpcq" in the subjects the client sends to,
	// for a relay in between (see rpcqtest) or a subject mapping.
	SubjectPrefix string
	// Caller, if set, is sent with every call as its subject's last
	// token, to a service that serves callers (ServerConfig.Callers):
	// 1 to MaxCallerLen letters, digits, '-' and '_'.
	Caller string
}

// Client calls methods of rpcq services. One client is safe for concurrent
// use and keeps any number of calls in flight over one reply
// subscription, without a goroutine per call.
type Client struct {
	nc  *nats.Conn
	cfg ClientConfig

	inbox string // prefix of every reply subject; the subscription is inbox+"*"
	sub   *nats.Subscription

	mu       sync.Mutex              // guards the fields below and every pending Call's state
	id       string                  // the client's ID (see clientID)
	seq      uint64                  // the last sequence number given to a call
	pending  map[uint64]*Call        // by sequence number, the reply subject's last token
	services map[string]serviceModes // modes services published
	inFlight callList                // pending calls by sequence number: its head makes the watermark
	expiries expiryQueue
	closed   bool
	rand     *mathrand.Rand
	sends    uint64          // sends so far, numbering them
	missing  map[string]bool // services a call found without responders since their last answer

	fire     func()   // c.expireDue, made once: a method value allocates
	subjects sync.Map // "Service.Method" to its methodName, made once each
	names    int      // entries in subjects, guarded by mu

	status  chan nats.Status // the connection's reconnections (see watchConnection)
	watched chan struct{}    // closed when watchConnection returns
}

// NewClient returns a client that calls over nc. The caller keeps
// ownership of nc; Close the client before closing nc.
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	if cfg.Timeout < 0 || cfg.RetryInterval < 0 {
		return nil, fmt.Errorf("%w: negative Timeout or RetryInterval", ErrInvalidConfig)
	}
	if err := checkCaller(cfg.Caller); err != nil {
		return nil, err
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.RetryInterval = cmp.Or(cfg.RetryInterval, DefaultRetryInterval)
	cfg.SubjectPrefix = cmp.Or(cfg.SubjectPrefix, SubjectPrefix)
	if cfg.Codec == nil {
		cfg.Codec = Msgpack
	}
	var seed [16]byte
	rand.Read(seed[:])
	c := &Client{
		nc:       nc,
		cfg:      cfg,
		inbox:    nc.NewRespInbox() + ".",
		pending:  map[uint64]*Call{},
		services: map[string]serviceModes{},
		missing:  map[string]bool{},
		inFlight: callList{link: func(c *Call) *callLink { return &c.bySeq }},
		expiries: newExpiryQueue(),
		rand:     mathrand.New(mathrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
	}
	c.id = c.newID()
	c.fire = c.expireDue
	sub, err := nc.Subscribe(c.inbox+"*", c.onReply)
	if err != nil {
		return nil, fmt.Errorf("rpcq: subscribe to replies: %w", err)
	}
	// Replies must never be dropped for a slow reader: a dropped reply is
	// a call that ran but looks lost.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("rpcq: %w", err)
	}
	c.sub = sub
	c.status, c.watched = nc.StatusChanged(nats.CONNECTED), make(chan struct{})
	go c.watchConnection()
	return c, nil
}

// ID is the client's unique ID, as sent in the Rpcq header. It
// changes when a server no longer knows the client (see Call).
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// newID makes a client ID born now.
func (c *Client) newID() string {
	var r [8]byte
	rand.Read(r[:])
	return clientID{born: time.Now().UnixNano(), rand: binary.LittleEndian.Uint64(r[:])}.String()
}

// CallOption changes one call.
type CallOption func(*Call)

// WithMode makes the call retry as mode requires, whatever the client's
// configuration says.
func WithMode(mode Mode) CallOption {
	return func(call *Call) { call.mode, call.modeSet = mode, true }
}

// Call calls serviceMethod ("Service.Method") with args, decodes the reply
// into reply (a pointer, or nil to discard it) and returns the error.
func (c *Client) Call(ctx context.Context, serviceMethod string, args, reply any, opts ...CallOption) error {
	wake := wakePool.Get().(chan struct{})
	call := &Call{ServiceMethod: serviceMethod, Args: args, Reply: reply, wake: wake}
	c.start(ctx, call, opts, false)
	select {
	case <-wake:
	case <-ctx.Done():
		c.expire(call)
		<-wake
	}
	wakePool.Put(wake) // complete sent on it once, and it is empty again
	call.decode()      // here, not on the reply goroutine every call shares
	return call.Error
}

// wakePool holds the channels Call waits on, each with room for the one
// send that completes a call: a Call receives it before putting the
// channel back.
var wakePool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// Go calls serviceMethod asynchronously and returns the Call. done, if not
// nil, must be buffered, or Go panics, as net/rpc's does; if nil, a channel
// with room for 10 calls is made. The completed Call is sent on call.Done;
// if that channel is full, the call is dropped and logged nowhere, so size
// it for the calls in flight.
func (c *Client) Go(ctx context.Context, serviceMethod string, args, reply any, done chan *Call, opts ...CallOption) *Call {
	if done == nil {
		done = make(chan *Call, 10)
	} else if cap(done) == 0 {
		panic("rpcq: done channel is unbuffered")
	}
	call := &Call{ServiceMethod: serviceMethod, Args: args, Reply: reply, Done: done}
	c.start(ctx, call, opts, true)
	return call
}

// GoFunc calls serviceMethod asynchronously and runs f with the completed
// Call on a goroutine of its own: the callback style of RPC.
func (c *Client) GoFunc(ctx context.Context, serviceMethod string, args, reply any, f func(*Call), opts ...CallOption) {
	call := &Call{ServiceMethod: serviceMethod, Args: args, Reply: reply, fn: f}
	c.start(ctx, call, opts, true)
}

// start encodes and sends the call and arms its deadline: the client's
// expiry queue for contexts without one, else, with watch, a watch on the
// context (Call watches its context itself). Every failure completes the call.
func (c *Client) start(ctx context.Context, call *Call, opts []CallOption, watch bool) {
	call.codec = c.cfg.Codec
	for _, opt := range opts {
		opt(call)
	}
	name, err := c.methodName(call.ServiceMethod)
	if err != nil {
		c.complete(call, nil, err)
		return
	}
	service, method := name.service, name.method
	if !call.modeSet {
		mode, ok := c.cfg.Modes[call.ServiceMethod]
		if !ok {
			mode = c.modeOf(ctx, service, method)
		}
		call.mode = mode
	}
	call.service = service
	call.subject = name.subject
	if call.body, err = call.codec.Marshal(call.Args); err != nil {
		c.complete(call, nil, fmt.Errorf("rpcq: %s: encode arguments: %w", call.ServiceMethod, err))
		return
	}
	call.ctx = ctx
	now := time.Now() // read once for the deadline and the first send: reading the clock shows in profiles
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(c.cfg.Timeout)
	}
	call.deadline = deadline

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.complete(call, nil, ErrClosed)
		return
	}
	c.numberLocked(call)
	// Armed under mu, so that complete always sees them.
	if watch && ctx.Done() != nil {
		call.stopWatch = context.AfterFunc(ctx, func() { c.expire(call) })
	}
	if !ok {
		c.expiries.push(call, now, c.fire)
	}
	c.mu.Unlock()
	c.sendAt(call, now)
}

// send publishes the call's next attempt; a retrying mode arms a resend in
// case no reply comes.
func (c *Client) send(call *Call) { c.sendAt(call, time.Now()) }

// sendAt is send at now, the time the request says it was sent.
func (c *Client) sendAt(call *Call, now time.Time) {
	c.mu.Lock()
	if call.finished {
		c.mu.Unlock()
		return
	}
	call.Attempts++
	call.notRun = false
	c.sends++
	call.sentAs = c.sends
	out := call.outgoing(c.watermarkLocked(), now)
	if call.mode.retries() {
		// The wait doubles with each send that goes unanswered, not with
		// each send: after "no responders", a reconnection or a service's
		// return it starts again at RetryInterval (see recovery.go).
		call.unanswered++
		c.armLocked(call, backoff(call.unanswered, c.cfg.RetryInterval, maxRetryInterval, c.rand))
	}
	c.mu.Unlock()

	err := c.nc.PublishMsg(&out.msg)
	out.release()
	if err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			err = fmt.Errorf("%w: %s request of %d bytes, the server accepts %d", ErrMaxPayload, call.ServiceMethod, len(call.body), c.nc.MaxPayload())
		} else {
			err = fmt.Errorf("rpcq: %s: send: %w", call.ServiceMethod, err)
		}
		c.complete(call, nil, err)
	}
}

// numberLocked gives the call the next sequence number under the client's
// current ID and enters it in the pending calls. Numbering and entering
// under one lock keeps inFlight in sequence order, which the watermark needs.
func (c *Client) numberLocked(call *Call) {
	c.seq++
	call.seq, call.client = c.seq, c.id
	// One string holds both, "<inbox><seq><client>-<seq>". The first
	// numbering writes it into the call's own names array, which nothing
	// writes again, and the string shares it: no allocation. A renewal, or
	// a long inbox prefix, allocates one.
	var both string
	var n int
	if call.reply == "" && len(c.inbox)+len(c.id)+2*maxUintDigits+1 <= len(call.names) {
		s, i := appendNames(call.names[:0], c.inbox, c.id, call.seq)
		both, n = unsafe.String(unsafe.SliceData(s), len(s)), i
	} else {
		var b [128]byte
		s, i := appendNames(b[:0], c.inbox, c.id, call.seq)
		both, n = string(s), i
	}
	call.reply, call.id = both[:n], both[n:]
	c.pending[call.seq] = call
	c.inFlight.push(call)
}

// maxUintDigits is the length of the longest uint64 in decimal.
const maxUintDigits = 20

// appendNames appends "<inbox><seq><client>-<seq>" to dst, and says where
// the reply subject, its first part, ends.
func appendNames(dst []byte, inbox, client string, seq uint64) ([]byte, int) {
	dst = strconv.AppendUint(append(dst, inbox...), seq, 10)
	n := len(dst)
	return strconv.AppendUint(append(append(dst, client...), '-'), seq, 10), n
}

// watermarkLocked is the highest sequence number up to which every call
// has finished: the client will not send those again.
func (c *Client) watermarkLocked() uint64 {
	if c.inFlight.head != nil {
		return c.inFlight.head.seq - 1
	}
	return c.seq
}

// renewLocked restarts a call that a server refused because it no longer
// knows the client (it expired, or the server's table is newer than the
// client): the client takes a new ID, born now, and the call a new number.
// Only a call that certainly never ran may be renewed.
func (c *Client) renewLocked(call *Call) {
	if call.client == c.id {
		c.id = c.newID()
	}
	delete(c.pending, call.seq)
	c.inFlight.remove(call)
	c.numberLocked(call)
}

// armLocked (re)schedules the call's next send after d.
func (c *Client) armLocked(call *Call, d time.Duration) {
	if call.timer == nil {
		call.timer = time.AfterFunc(d, func() { c.send(call) })
		return
	}
	call.timer.Reset(d)
}

// onReply runs on the reply subscription for every answer.
func (c *Client) onReply(m *nats.Msg) {
	if len(m.Subject) <= len(c.inbox) {
		return
	}
	seq, err := strconv.ParseUint(m.Subject[len(c.inbox):], 10, 64)
	if err != nil {
		return // not a reply subject of ours
	}
	c.mu.Lock()
	call := c.pending[seq]
	if call == nil { // a late or duplicate reply to a finished call
		c.mu.Unlock()
		return
	}
	if !notRun(m) && c.missing[call.service] {
		// The service is back: what went to it before it was found
		// missing may have died with the instance that took it.
		delete(c.missing, call.service)
		sentAs := call.sentAs
		back := c.takeResendableLocked(func(o *Call) bool {
			return o.service == call.service && o.sentAs < sentAs
		})
		defer c.resend(back) // once mu is released
	}
	switch code := m.Header.Get(HeaderErrorCode); {
	case notRun(m):
		// Nobody ran it: resending is safe in every mode. A resend that
		// could not be answered before the deadline is not sent, so that
		// the call ends as it stands, certainly not run, rather than as a
		// timeout that leaves the caller guessing.
		call.noResp++
		call.notRun = true
		call.unanswered = 0
		c.missing[call.service] = true
		if wait := backoff(call.noResp, noRespondersBase, noRespondersMax, c.rand); time.Until(call.deadline) > wait+lastSendMargin {
			c.armLocked(call, wait)
		}
		probe := isNoResponders(m) && !call.probed
		call.probed = call.probed || probe
		c.mu.Unlock()
		if probe {
			go c.probeMethod(call)
		}
		return
	case code == "409":
		// A duplicate while the call runs: ask again later for its reply.
		c.armLocked(call, backoff(call.unanswered, c.cfg.RetryInterval, maxRetryInterval, c.rand))
		c.mu.Unlock()
		return
	case code == "410" && call.noResp == call.Attempts-1:
		// The server does not know this client, and no attempt of the
		// call can have run: start it again as a new client's.
		call.noResp++
		call.unanswered = 0
		c.renewLocked(call)
		c.armLocked(call, backoff(call.noResp, noRespondersBase, noRespondersMax, c.rand))
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.complete(call, m, nil)
}

// notRun reports an answer that proves the request did not run: NATS's
// "no responders", or a server that is shutting down.
func notRun(m *nats.Msg) bool {
	return isNoResponders(m) || m.Header.Get(HeaderErrorCode) == "503"
}

func isNoResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") == "503"
}

// expire ends a call whose context ended. If the last attempt was answered
// "not run", the call certainly did not run: say so rather than "timeout".
func (c *Client) expire(call *Call) {
	c.mu.Lock()
	notRun, attempts := call.notRun, call.Attempts
	c.mu.Unlock()
	var err error
	switch {
	case notRun:
		err = fmt.Errorf("%w for %s after %d attempt(s)", ErrNoResponders, call.ServiceMethod, attempts)
	case call.ctx.Err() == nil || errors.Is(call.ctx.Err(), context.DeadlineExceeded):
		err = &timeoutError{method: call.ServiceMethod, attempts: attempts}
	default:
		err = fmt.Errorf("rpcq: %s: %w", call.ServiceMethod, call.ctx.Err())
	}
	c.complete(call, nil, err)
}

// expireDue ends the calls whose default deadline has come.
func (c *Client) expireDue() {
	c.mu.Lock()
	calls := c.expiries.due(time.Now(), c.fire)
	c.mu.Unlock()
	for _, call := range calls {
		c.expire(call)
	}
}

// complete ends the call, once: with the reply msg, or with err.
func (c *Client) complete(call *Call, msg *nats.Msg, err error) {
	c.mu.Lock()
	if call.finished {
		c.mu.Unlock()
		return
	}
	call.finished = true
	delete(c.pending, call.seq)
	c.inFlight.remove(call)
	if call.timer != nil {
		call.timer.Stop()
	}
	c.expiries.remove(call)
	stopWatch := call.stopWatch
	c.mu.Unlock()
	if stopWatch != nil {
		stopWatch()
	}
	call.msg, call.Error = msg, err
	switch {
	case call.wake != nil: // Call decodes on its own goroutine
		call.wake <- struct{}{}
	case call.fn != nil:
		call.decode()
		go call.fn(call)
	default:
		call.decode()
		select {
		case call.Done <- call:
		default:
		}
	}
}

// methodName is a "Service.Method" split and checked, with its subject.
type methodName struct{ service, method, subject string }

// maxCachedNames bounds the names a client remembers.
const maxCachedNames = 1024

// methodName splits and checks serviceMethod, once per name.
func (c *Client) methodName(serviceMethod string) (methodName, error) {
	if v, ok := c.subjects.Load(serviceMethod); ok {
		return v.(methodName), nil
	}
	service, method, err := splitServiceMethod(serviceMethod)
	if err != nil {
		return methodName{}, err
	}
	name := methodName{service: service, method: method, subject: c.cfg.SubjectPrefix + "." + service + "." + method}
	if c.cfg.Caller != "" {
		name.subject += "." + c.cfg.Caller
	}
	c.mu.Lock()
	if c.names < maxCachedNames {
		c.names++
		c.subjects.Store(serviceMethod, name)
	}
	c.mu.Unlock()
	return name, nil
}

// probeMethod asks the service, after "no responders", whether it has the
// method at all: a misspelt method is a quick CodeUnknownMethod, not a wait
// for the deadline. No answer means no instance is up; retries go on.
func (c *Client) probeMethod(call *Call) {
	service, method, _ := splitServiceMethod(call.ServiceMethod)
	subject, err := micro.ControlSubject(micro.InfoVerb, service, "")
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(call.ctx, probeTimeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, subject, nil)
	if err != nil {
		return
	}
	var info micro.Info
	if json.Unmarshal(m.Data, &info) != nil {
		return
	}
	methods, ok := info.Metadata[MetadataMethods]
	if ok && !slices.Contains(strings.Split(methods, ","), method) {
		c.complete(call, nil, Errorf(CodeUnknownMethod, "service %s has no method %s", service, method))
	}
}

// Close fails the calls in flight with ErrClosed and stops receiving
// replies. It is idempotent; nc stays open.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	calls := slices.Collect(maps.Values(c.pending))
	c.expiries.stop()
	c.mu.Unlock()
	c.nc.RemoveStatusListener(c.status)
	<-c.watched
	for _, call := range calls {
		c.complete(call, nil, ErrClosed)
	}
	if err := c.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("rpcq: close: %w", err)
	}
	return nil
}
