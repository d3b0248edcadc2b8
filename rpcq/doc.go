// Package rpcq is RPC over NATS request-reply, as easy as net/rpc.
//
// # Serving
//
// A service is a named set of methods. Make a Server on a connection you
// own, register methods, Start it, and Shutdown when done:
//
//	srv, err := rpcq.NewServer(nc, rpcq.ServerConfig{Name: "WordCount", Version: "1.0.0"})
//	err = srv.Register(&WordCountServer{})           // net/rpc-shaped methods
//	err = rpcq.HandleFunc(srv, "Echo", func(ctx context.Context, s string) (string, error) {
//		return s, nil                                  // or a typed function
//	})
//	err = srv.Start()
//	defer srv.Shutdown(ctx)                            // then close nc
//
// Register takes the exported methods of the shape
// Method(ctx context.Context, args A, reply *R) error, or net/rpc's
// Method(args A, reply *R) error. Each method answers on the subject
// rpcq.<Name>.<Method>. The service is a nats.go micro service, so
// `nats micro ls`, `nats micro info` and `nats micro stats` list it, its
// endpoints and their statistics; the endpoint metadata key rpcq.mode
// carries each method's Mode.
//
// A micro endpoint runs one request at a time. ServerConfig.Concurrency N
// starts N service instances in one queue group, so each method runs up to
// N calls at once (and `nats micro ls` shows N instances). Replicas in other
// processes join the same queue group: NATS spreads calls among them.
// A call through a duplicate table that waits on I/O (a KVTable) leaves
// its endpoint while the table writes its claim, and, once it is
// answered, its reply, so that up to ServerConfig.TableWaits calls wait
// on those writes together; its handler still runs in one of the N slots.
//
// A handler's ctx ends at the caller's deadline; a request whose deadline
// passed before it ran is refused with CodeDeadline. A handler that panics
// answers CodeInternal and the server keeps serving. Shutdown stops taking
// calls, lets running ones finish and answers queued ones CodeUnavailable,
// which clients retry elsewhere.
//
// # Calling
//
// A Client is safe for concurrent use; make one per connection and share it:
//
//	c, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
//	err = c.Call(ctx, "WordCount.Compute", args, &reply)      // synchronous
//	call := c.Go(ctx, "WordCount.Compute", args, &reply, nil) // asynchronous,
//	<-call.Done                                               // as in net/rpc
//	c.GoFunc(ctx, "WordCount.Compute", args, &reply, func(call *rpcq.Call) {
//		// callback, on a goroutine of its own
//	})
//
// All calls of a client share one reply subscription; a call in flight is
// an entry in a map, not a goroutine. A context without a deadline gets
// ClientConfig.Timeout.
//
// # Errors
//
// Errors the server answers with arrive as *RemoteError, whose Code is the
// Nats-Service-Error-Code header: errors.Is(err, rpcq.ErrUnknownMethod)
// matches any 404. ErrNoResponders means no server took the call, retries
// included; it certainly did not run. ErrTimeout (which also matches
// context.DeadlineExceeded) means no reply came in time: the call may or
// may not have run. ErrMaxPayload means the request was larger than the
// server accepts; nothing was sent.
//
// # Delivery
//
// Each method has a Mode, declared in ServerConfig.Modes and, on the client,
// in ClientConfig.Modes or per call with WithMode. AtMostOnce (the default)
// sends once. AtLeastOnce and ReadOnly resend until a reply comes or the
// context ends, for methods that may run twice. Every mode resends after
// "no responders" and after CodeUnavailable, which prove the call did not run.
//
// A resend waits ClientConfig.RetryInterval, doubling with each unanswered
// send up to 5 s. When the connection reconnects, or a service that a call
// found without responders answers again, the calls that may be resent go
// out at once and their waits start again, so an outage delays a call by
// little more than its own length (see the README's table).
//
// # Wire format
//
// Bodies are msgpack, honouring `json` struct tags. A request with
// Content-Type: application/json, or without a Content-Type whose body is
// empty, JSON text (any JSON value) or begins with '{' or '[', is decoded
// and answered as JSON, so
//
//	nats request rpcq.WordCount.Compute '{"Input":"a b a"}'
//
// works from a shell. A request from rpcq's client carries one header,
// Rpcq, with its ID, the time its caller has left, the client's watermark,
// its send time and its attempt (see HeaderRequest); errors travel in
// micro's Nats-Service-Error headers.
package rpcq
