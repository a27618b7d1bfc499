package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/kuguri/kuguri/tunnel/api"
)

// Server limits and timeouts.
const (
	defaultWriteTimeout = 10 * time.Second // a client that reads nothing this long is dropped
	maxConns            = 64               // concurrent client connections
	maxInFlight         = 64               // requests per connection not yet answered (watches included)
	maxWatches          = 8                // watches per connection
	acceptRetryMax      = time.Second
)

// Serve answers control requests on ln with b until ctx ends. It then closes
// ln, ends every client session (their watches and pending requests see
// their context cancelled) and returns nil once all its goroutines have
// returned. It returns an error only when ln fails for another reason.
// A nil logger discards logs.
func Serve(ctx context.Context, ln net.Listener, b api.Backend, logger *slog.Logger) error {
	s := newServer(b, logger)
	return s.serve(ctx, ln)
}

// server holds what every session shares. All fields are set at
// construction, except conns, which mu guards.
type server struct {
	backend      api.Backend
	logger       *slog.Logger
	uid          int // our uid; -1 where the OS has none (Windows)
	hello        Hello
	writeTimeout time.Duration
	// peerUID returns a connection's peer uid (ok false when the OS cannot
	// tell); a field so that tests can pretend.
	peerUID func(net.Conn) (uid int, ok bool, err error)

	mu    sync.Mutex
	conns int
}

func newServer(b api.Backend, logger *slog.Logger) *server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &server{
		backend:      b,
		logger:       logger,
		uid:          os.Getuid(),
		hello:        Hello{Version: binaryVersion(), PID: os.Getpid(), Protocol: ProtocolVersion},
		writeTimeout: defaultWriteTimeout,
		peerUID:      peerUID,
	}
}

// binaryVersion is the main module's version as the Go toolchain recorded
// it, "dev" for a development build.
func binaryVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func (s *server) serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var wg sync.WaitGroup
	defer wg.Wait()
	delay := time.Duration(0)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				// Closed by the AfterFunc; close again to wait until the
				// socket file is gone.
				ln.Close()
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("control socket %s: listener closed: %w", ln.Addr(), err)
			}
			// Most likely out of file descriptors: back off and retry,
			// as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), acceptRetryMax)
			s.logger.Warn("control socket: accept failed; retrying", "err", err, "in", delay)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				ln.Close()
				return nil
			case <-t.C:
			}
			continue
		}
		delay = 0
		wg.Go(func() { s.handle(ctx, c) })
	}
}

// checkPeerUID decides whether a peer with uid peer may use a server that
// runs as uid self: only the same uid may, root included (a root peer is
// refused by a non-root server, so that a stray sudo does not drive
// someone's tunnels by accident; root can always use the server's uid).
func checkPeerUID(peer, self int) error {
	if peer != self {
		return fmt.Errorf("permission denied: the connection comes from uid %d, and this kuguri up runs as uid %d", peer, self)
	}
	return nil
}

// handle runs one client connection to its end.
func (s *server) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	if err := s.admit(c); err != nil {
		s.logger.Warn("control socket: connection refused", "err", err)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if line, merr := encodeLine(errorResponse(0, err)); merr == nil {
			c.Write(line)
		}
		return
	}
	defer func() {
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ss := &session{
		srv:      s,
		conn:     c,
		ctx:      ctx,
		cancel:   cancel,
		sem:      make(chan struct{}, maxInFlight),
		wake:     make(chan struct{}, 1),
		slots:    make(map[uint64]*api.Snapshot),
		pending:  make(map[uint64]bool),
		watching: make(map[uint64]bool),
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	ss.wg.Go(ss.writeLoop)
	ss.readLoop()
	<-ctx.Done()
	ss.wg.Wait()
}

// admit checks the peer's uid and the connection count.
func (s *server) admit(c net.Conn) error {
	if s.uid >= 0 {
		uid, ok, err := s.peerUID(c)
		if err != nil {
			return fmt.Errorf("reading the peer's credentials: %w", err)
		}
		if ok {
			if err := checkPeerUID(uid, s.uid); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns >= maxConns {
		return fmt.Errorf("too many control connections (%d)", maxConns)
	}
	s.conns++
	return nil
}

// session is one client connection. conn, ctx, cancel, sem and wake are set
// at construction; the rest is guarded by mu.
type session struct {
	srv    *server
	conn   net.Conn
	ctx    context.Context // ends when the session does
	cancel context.CancelFunc
	sem    chan struct{} // one token per request not yet answered
	wake   chan struct{} // tells the writer there is something to write
	wg     sync.WaitGroup

	mu       sync.Mutex
	replies  []reply                  // final answers, in order
	slots    map[uint64]*api.Snapshot // latest unsent snapshot of each watch
	pending  map[uint64]bool          // ids not yet answered
	watching map[uint64]bool          // ids of running watches (a subset of pending)
	eof      bool                     // the client sent EOF
}

// reply is a final answer. fatal closes the connection once it is written.
type reply struct {
	resp  Response
	fatal bool
}

// readLoop reads requests until EOF, junk, or the end of the session.
func (ss *session) readLoop() {
	sc := bufio.NewScanner(ss.conn)
	sc.Buffer(make([]byte, 0, 4096), MaxRequestLine+1)
	for sc.Scan() {
		line := sc.Bytes()
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			continue
		}
		req, err := DecodeRequest(line)
		if err != nil {
			ss.fail(err)
			return
		}
		if !ss.begin(req) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			ss.fail(fmt.Errorf("%w: request line exceeds %d bytes", errProtocol, MaxRequestLine))
			return
		}
		if ss.ctx.Err() == nil {
			ss.srv.logger.Debug("control socket: read failed", "err", err)
		}
		ss.cancel()
		return
	}
	ss.mu.Lock()
	ss.eof = true
	ss.mu.Unlock()
	ss.maybeFinish()
}

// fail answers a request the server could not read, then closes.
func (ss *session) fail(err error) {
	ss.srv.logger.Debug("control socket: bad request; closing", "err", err)
	ss.enqueue(reply{resp: errorResponse(0, err), fatal: true})
}

// begin starts serving req. It reports false when the session is over.
func (ss *session) begin(req Request) bool {
	select {
	case ss.sem <- struct{}{}:
	case <-ss.ctx.Done():
		return false
	}
	ss.mu.Lock()
	if ss.pending[req.ID] {
		ss.mu.Unlock()
		<-ss.sem
		ss.fail(fmt.Errorf("%w: id %d is already in use", errProtocol, req.ID))
		return false
	}
	ss.pending[req.ID] = true
	tooMany := req.Op == OpWatch && len(ss.watching) >= maxWatches
	if req.Op == OpWatch && !tooMany {
		ss.watching[req.ID] = true
	}
	ss.mu.Unlock()

	if tooMany {
		ss.answer(errorResponse(req.ID, fmt.Errorf("too many watches on one connection (%d)", maxWatches)))
		return true
	}
	ss.srv.logger.Debug("control socket: request", "id", req.ID, "op", req.Op, "names", req.Names)
	if req.Op == OpWatch {
		ss.wg.Go(func() { ss.watch(req.ID) })
	} else {
		ss.wg.Go(func() { ss.answer(ss.do(req)) })
	}
	return true
}

// do runs a one-shot request against the backend.
func (ss *session) do(req Request) Response {
	b, ctx := ss.srv.backend, ss.ctx
	var err error
	switch req.Op {
	case OpHello:
		h := ss.srv.hello
		return Response{ID: req.ID, OK: true, Hello: &h}
	case OpSnapshot:
		snap, serr := b.Snapshot(ctx)
		if serr == nil {
			return Response{ID: req.ID, OK: true, Snapshot: &snap}
		}
		err = serr
	case OpStart:
		err = b.Start(ctx, req.Names...)
	case OpStop:
		err = b.Stop(ctx, req.Names...)
	case OpReconnect:
		err = b.Reconnect(ctx, req.Names...)
	default:
		err = fmt.Errorf("op %s is not served here", req.Op)
	}
	if err != nil {
		return errorResponse(req.ID, err)
	}
	return Response{ID: req.ID, OK: true}
}

// watch feeds one watch's slot from the backend until either side ends it.
// It keeps draining the backend's channel whatever the client does, so the
// engine never waits for a slow client.
func (ss *session) watch(id uint64) {
	ch, err := ss.srv.backend.Watch(ss.ctx)
	if err != nil {
		ss.answer(errorResponse(id, err))
		return
	}
	for {
		select {
		case snap, ok := <-ch:
			if !ok {
				ss.answer(Response{ID: id, OK: true, Done: true})
				return
			}
			ss.mu.Lock()
			ss.slots[id] = &snap
			ss.mu.Unlock()
			ss.signal()
		case <-ss.ctx.Done():
			return
		}
	}
}

// answer queues the final answer of a request.
func (ss *session) answer(r Response) { ss.enqueue(reply{resp: r}) }

func (ss *session) enqueue(r reply) {
	ss.mu.Lock()
	ss.replies = append(ss.replies, r)
	ss.mu.Unlock()
	ss.signal()
}

func (ss *session) signal() {
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes whatever is queued, watch snapshots first (so that a
// watch's last snapshot precedes its done line), each write bounded by the
// write timeout.
func (ss *session) writeLoop() {
	w := bufio.NewWriter(ss.conn)
	for {
		select {
		case <-ss.wake:
		case <-ss.ctx.Done():
			return
		}
		ss.mu.Lock()
		// Take the slots only when there are some: an empty map stays
		// with the watchers, who may write to it as soon as mu is free.
		var slots map[uint64]*api.Snapshot
		if len(ss.slots) > 0 {
			slots = ss.slots
			ss.slots = make(map[uint64]*api.Snapshot, len(slots))
		}
		replies := ss.replies
		ss.replies = nil
		ss.mu.Unlock()

		for id, snap := range slots {
			if !ss.write(w, Response{ID: id, OK: true, Snapshot: snap}) {
				return
			}
		}
		fatal := false
		for i, r := range replies {
			if !ss.write(w, r.resp) {
				return
			}
			if r.fatal {
				// Nothing follows the reason for closing.
				fatal, replies = true, replies[:i]
				break
			}
		}
		if err := ss.flush(w); err != nil {
			return
		}
		if fatal {
			ss.cancel()
			return
		}
		for _, r := range replies {
			ss.mu.Lock()
			delete(ss.pending, r.resp.ID)
			delete(ss.watching, r.resp.ID)
			ss.mu.Unlock()
			<-ss.sem
		}
		ss.maybeFinish()
	}
}

// write encodes r into w, flushing under the write deadline when w fills.
func (ss *session) write(w *bufio.Writer, r Response) bool {
	line, err := encodeLine(r)
	if err != nil {
		line, _ = encodeLine(errorResponse(r.ID, fmt.Errorf("encoding the answer: %w", err)))
	}
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.writeTimeout))
	if _, err := w.Write(line); err != nil {
		ss.dropped(err)
		return false
	}
	return true
}

func (ss *session) flush(w *bufio.Writer) error {
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.writeTimeout))
	if err := w.Flush(); err != nil {
		ss.dropped(err)
		return err
	}
	return nil
}

func (ss *session) dropped(err error) {
	if ss.ctx.Err() == nil {
		ss.srv.logger.Info("control socket: dropping a client that does not read", "err", err)
	}
	ss.cancel()
}

// maybeFinish ends a session whose client sent EOF once nothing is left to
// answer; a client that sent EOF while watching is gone, so its watches end
// at once.
func (ss *session) maybeFinish() {
	ss.mu.Lock()
	done := ss.eof && (len(ss.watching) > 0 || (len(ss.pending) == 0 && len(ss.replies) == 0))
	ss.mu.Unlock()
	if done {
		ss.cancel()
	}
}
