package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kuguri/kuguri/tunnel/api"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(peerHelperEnv); path != "" {
		os.Exit(peerHelper(path))
	}
	goleak.VerifyTestMain(m)
}

func TestRoundTripEveryOp(t *testing.T) {
	want := snapWith(3, 10)
	fb := newFake(want)
	ts := startServer(t, fb, nil)
	c := dialT(t, ts.path)
	ctx := testCtx(t)

	h, err := c.Hello(ctx)
	must(t, err)
	if h.PID != os.Getpid() || h.Protocol != ProtocolVersion || h.Version == "" {
		t.Errorf("Hello = %+v, want pid %d, protocol %d and a version", h, os.Getpid(), ProtocolVersion)
	}

	got, err := c.Snapshot(ctx)
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshot = %+v\nwant %+v", got, want)
	}

	must(t, c.Start(ctx, "vps", "lazy-db"))
	must(t, c.Stop(ctx))
	must(t, c.Reconnect(ctx, "vps"))
	must(t, c.Stop(ctx, "a.b"))

	ch, err := c.Watch(ctx)
	must(t, err)
	first := <-ch
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first watch snapshot = %+v, want %+v", first, want)
	}

	wantCalls := []string{"snapshot", "start vps lazy-db", "stop", "reconnect vps", "stop a.b"}
	if got := fb.Calls(); !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("backend calls = %s, want %s", fmtCalls(got), fmtCalls(wantCalls))
	}
}

func TestWatchFirstFullStateThenChanges(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, nil)
	c := dialT(t, ts.path)
	ctx, cancel := context.WithCancel(testCtx(t))

	ch, err := c.Watch(ctx)
	must(t, err)
	if s := <-ch; s.Profiles[0].Reconnects != 0 {
		t.Fatalf("first snapshot has reconnects %d, want the full state (0)", s.Profiles[0].Reconnects)
	}
	waitFor(t, "the server's watch to subscribe", 5*time.Second, func() bool { return fb.Subscribers() == 1 })

	// Every change arrives, or at least the latest one does.
	for i := 1; i <= 5; i++ {
		fb.publish(snapWith(i, 0))
		for {
			s, ok := <-ch
			if !ok {
				t.Fatal("watch channel closed early")
			}
			n := s.Profiles[0].Reconnects
			if n > i || n < 1 {
				t.Fatalf("got reconnects %d after publishing %d", n, i)
			}
			if n == i {
				break
			}
		}
	}

	// Ending ctx closes the channel and ends the server's watch.
	cancel()
	for range ch {
	}
	waitFor(t, "the server's watch to end", 5*time.Second, func() bool { return fb.Subscribers() == 0 })
}

func TestWatchEndsWhenBackendEndsIt(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, nil)
	c := dialT(t, ts.path)
	ch, err := c.Watch(testCtx(t))
	must(t, err)
	<-ch
	waitFor(t, "subscribe", 5*time.Second, func() bool { return fb.Subscribers() == 1 })
	fb.endWatches()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch channel still open 10s after the backend ended the watch")
	}
}

func TestWatchClosesWhenServerStops(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, nil)
	c := dialT(t, ts.path)
	ch, err := c.Watch(testCtx(t))
	must(t, err)
	<-ch
	ts.stop(t)
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("got a snapshot after the server stopped")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch channel still open 10s after the server stopped")
	}
	// The shared connection is gone too, and no server is left.
	if _, err := c.Snapshot(testCtx(t)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Snapshot after the server stopped: %v, want ErrNotRunning", err)
	}
}

func TestTypedErrorsCrossTheSocket(t *testing.T) {
	for _, sentinel := range []error{api.ErrAuth, api.ErrHostKey, api.ErrConfig, api.ErrNetwork, api.ErrForward} {
		t.Run(string(api.KindOf(sentinel)), func(t *testing.T) {
			fb := newFake(snapWith(0, 0))
			fb.err = fmt.Errorf("profile vps: hop 2 (vps.example.net:22022): %w", sentinel)
			ts := startServer(t, fb, nil)
			c := dialT(t, ts.path)
			ctx := testCtx(t)

			err := c.Start(ctx, "vps")
			if !errors.Is(err, sentinel) {
				t.Fatalf("Start error %v does not satisfy errors.Is(%v)", err, sentinel)
			}
			if err.Error() != fb.err.Error() {
				t.Errorf("message %q, want %q", err, fb.err)
			}
			if _, err := c.Snapshot(ctx); api.KindOf(err) != api.KindOf(sentinel) {
				t.Errorf("Snapshot error kind %q, want %q", api.KindOf(err), api.KindOf(sentinel))
			}
			if _, err := c.Watch(ctx); !errors.Is(err, sentinel) {
				t.Errorf("Watch error %v, want errors.Is %v", err, sentinel)
			}
		})
	}
	t.Run("untyped", func(t *testing.T) {
		fb := newFake(snapWith(0, 0))
		fb.err = errors.New("something broke")
		ts := startServer(t, fb, nil)
		err := dialT(t, ts.path).Stop(testCtx(t))
		if err == nil || api.KindOf(err) != api.KindInternal || err.Error() != "something broke" {
			t.Errorf("Stop error %v (kind %q), want \"something broke\" of kind internal", err, api.KindOf(err))
		}
	})
}

func TestConcurrentCallsOnOneClient(t *testing.T) {
	fb := newFake(snapWith(7, 0))
	fb.gate = make(chan struct{})
	ts := startServer(t, fb, nil)
	c := dialT(t, ts.path)
	ctx := testCtx(t)

	// A Start held by the backend must not hold up other calls on the same
	// client: requests are multiplexed.
	startDone := make(chan error, 1)
	go func() { startDone <- c.Start(ctx, "vps") }()
	waitFor(t, "Start to reach the server", 5*time.Second, func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return ts.srv.conns == 1
	})

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				s, err := c.Snapshot(ctx)
				if err == nil && s.Profiles[0].Reconnects != 7 {
					err = fmt.Errorf("snapshot has reconnects %d", s.Profiles[0].Reconnects)
				}
				errs <- err
			case 1:
				errs <- c.Stop(ctx, fmt.Sprint("p", i))
			case 2:
				_, err := c.Hello(ctx)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	select {
	case err := <-startDone:
		t.Fatalf("Start returned (%v) before the backend let it", err)
	default:
	}
	close(fb.gate)
	must(t, <-startDone)
}

func TestCallCancelledByCtx(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	fb.gate = make(chan struct{})
	ts := startServer(t, fb, nil)
	c := dialT(t, ts.path)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx, "vps") }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a cancelled ctx: %v", err)
	}
	// The connection stays usable.
	if _, err := c.Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	close(fb.gate)
}

func TestDialNotRunning(t *testing.T) {
	dir := shortDir(t)
	path := dir + "/kuguri.sock"
	_, err := Dial(testCtx(t), path)
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial of a missing socket: %v, want ErrNotRunning", err)
	}
	if want := "no kuguri up is running (socket " + path + ")"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	// A socket file nobody listens on says the same.
	makeStale(t, path)
	if _, err := Dial(testCtx(t), path); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial of a stale socket: %v, want ErrNotRunning", err)
	}
}

func TestClientRedialsAfterServerRestart(t *testing.T) {
	fb := newFake(snapWith(1, 0))
	ts := startServer(t, fb, nil)
	c := dialT(t, ts.path)
	must(t, c.Stop(testCtx(t)))
	ts.stop(t)

	ln, err := Listen(ts.path)
	must(t, err)
	serveOn(t, ln, ts.path, fb, nil)
	// The old connection is dead; the call dials again by itself.
	if err := c.Stop(testCtx(t), "vps"); err != nil {
		t.Fatalf("Stop after the server restarted: %v", err)
	}
	if got := fb.Calls(); len(got) != 2 || got[1] != "stop vps" {
		t.Errorf("backend calls %s, want the second Stop served once", fmtCalls(got))
	}
}

func TestClientClose(t *testing.T) {
	fb := newFake(snapWith(1, 0))
	ts := startServer(t, fb, nil)
	c, err := Dial(testCtx(t), ts.path)
	must(t, err)
	ch, err := c.Watch(testCtx(t))
	must(t, err)
	<-ch
	must(t, c.Close())
	if _, ok := <-ch; ok {
		t.Error("watch channel delivered after Close")
	}
	if err := c.Stop(testCtx(t)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Stop after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Watch(testCtx(t)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Watch after Close: %v, want net.ErrClosed", err)
	}
	waitFor(t, "the server to see the client go", 5*time.Second, func() bool { return fb.Subscribers() == 0 })
}

// rawConn is a connection that speaks the protocol by hand.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	sc *bufio.Scanner
}

func dialRaw(t *testing.T, path string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", path)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	sc := bufio.NewScanner(c)
	sc.Buffer(nil, maxResponseLine)
	return &rawConn{t: t, c: c, sc: sc}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next response, failing the test at EOF.
func (r *rawConn) read() Response {
	r.t.Helper()
	resp, ok := r.tryRead()
	if !ok {
		r.t.Fatalf("connection ended (%v), want a response", r.sc.Err())
	}
	return resp
}

func (r *rawConn) tryRead() (Response, bool) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if !r.sc.Scan() {
		return Response{}, false
	}
	var resp Response
	if err := json.Unmarshal(r.sc.Bytes(), &resp); err != nil {
		r.t.Fatalf("unreadable response %q: %v", r.sc.Bytes(), err)
	}
	return resp, true
}

// expectClosed checks that the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	if resp, ok := r.tryRead(); ok {
		r.t.Fatalf("got %+v, want the connection closed", resp)
	}
	var ne net.Error
	if errors.As(r.sc.Err(), &ne) && ne.Timeout() {
		r.t.Fatal("the server kept the connection open")
	}
}

func TestRawProtocol(t *testing.T) {
	fb := newFake(snapWith(2, 0))
	ts := startServer(t, fb, nil)
	r := dialRaw(t, ts.path)

	// Blank lines are skipped; CRLF is accepted; answers carry the ids.
	r.send("\n\r\n{\"id\":7,\"op\":\"stop\",\"names\":[\"vps\"]}\r\n{\"id\":8,\"op\":\"hello\"}\n")
	got := map[uint64]Response{}
	for range 2 {
		resp := r.read()
		got[resp.ID] = resp
	}
	if !got[7].OK || got[7].Snapshot != nil || !got[8].OK || got[8].Hello == nil {
		t.Errorf("answers %+v", got)
	}
	// A watch streams with the same id.
	r.send(`{"id":9,"op":"watch"}` + "\n")
	if resp := r.read(); resp.ID != 9 || !resp.OK || resp.Snapshot == nil {
		t.Errorf("first watch answer %+v", resp)
	}
	waitFor(t, "subscribe", 5*time.Second, func() bool { return fb.Subscribers() == 1 })
	fb.publish(snapWith(3, 0))
	if resp := r.read(); resp.ID != 9 || resp.Snapshot == nil || resp.Snapshot.Profiles[0].Reconnects != 3 {
		t.Errorf("second watch answer %+v", resp)
	}
	fb.endWatches()
	if resp := r.read(); resp.ID != 9 || !resp.OK || !resp.Done {
		t.Errorf("end of watch %+v, want done", resp)
	}
	// An id in use is a protocol error.
	fb.gate = make(chan struct{})
	r.send(`{"id":10,"op":"start"}` + "\n" + `{"id":10,"op":"stop"}` + "\n")
	if resp := r.read(); resp.ID != 0 || resp.OK || !strings.Contains(resp.Error, "id 10 is already in use") {
		t.Errorf("duplicate id: %+v", resp)
	}
	r.expectClosed()
	close(fb.gate)
}

func TestJunkInput(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, nil)
	cases := map[string]struct{ send, want string }{
		"not json":      {"hello there\n", "invalid character"},
		"binary":        {"\x00\xff\xfe{\n", "UTF-8"},
		"array":         {"[1,2]\n", "cannot unmarshal"},
		"unknown op":    {`{"id":1,"op":"rm -rf"}` + "\n", `unknown op "rm -rf"`},
		"zero id":       {`{"id":0,"op":"hello"}` + "\n", "positive"},
		"negative id":   {`{"id":-1,"op":"hello"}` + "\n", "cannot unmarshal"},
		"unknown field": {`{"id":1,"op":"hello","x":1}` + "\n", "unknown field"},
		"two objects":   {`{"id":1,"op":"hello"}{"id":2,"op":"hello"}` + "\n", "after the JSON object"},
		"oversized":     {strings.Repeat("a", MaxRequestLine+10) + "\n", "exceeds 65536 bytes"},
		"oversized no newline": {
			`{"id":1,"op":"start","names":["` + strings.Repeat("a", MaxRequestLine), "exceeds 65536 bytes"},
		"names on hello": {`{"id":1,"op":"hello","names":["x"]}` + "\n", "takes no names"},
		"good then junk": {`{"id":1,"op":"hello"}` + "\n" + "}{\n", "invalid character"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, ts.path)
			r.send(tc.send)
			resp := r.read()
			if resp.ID == 1 && resp.OK { // "good then junk": the good answer may come first
				resp = r.read()
			}
			if resp.ID != 0 || resp.OK || !strings.Contains(resp.Error, tc.want) {
				t.Errorf("got %+v, want an id-0 error containing %q", resp, tc.want)
			}
			r.expectClosed()
		})
	}
	// The server survives all that.
	if _, err := dialT(t, ts.path).Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestHalfWrittenRequests(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, nil)

	t.Run("then EOF", func(t *testing.T) {
		r := dialRaw(t, ts.path)
		r.send(`{"id":1,"op":"snap`)
		must(t, r.c.(*net.UnixConn).CloseWrite())
		if resp := r.read(); resp.ID != 0 || resp.OK || !strings.Contains(resp.Error, "bad request") {
			t.Errorf("got %+v, want a bad-request error", resp)
		}
		r.expectClosed()
	})
	t.Run("complete then EOF is answered", func(t *testing.T) {
		r := dialRaw(t, ts.path)
		r.send(`{"id":1,"op":"snapshot"}`)
		must(t, r.c.(*net.UnixConn).CloseWrite())
		if resp := r.read(); resp.ID != 1 || !resp.OK || resp.Snapshot == nil {
			t.Errorf("got %+v, want the snapshot", resp)
		}
		r.expectClosed()
	})
	t.Run("then silence until the server stops", func(t *testing.T) {
		r := dialRaw(t, ts.path)
		r.send(`{"id":1,"op":"sta`)
		// Prove the request is not answered yet: a second client is served
		// meanwhile.
		if _, err := dialT(t, ts.path).Hello(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		ts.stop(t)
		r.expectClosed()
	})
}

// TestSlowWatcherDoesNotBlockPublisher: a client that asks for a watch and
// never reads must not slow the engine. The write timeout is long here, so
// the server cannot cheat by dropping the client: the publisher (blocking
// sends) must finish while the client is still connected, and the client,
// once it reads, must see the latest state.
func TestSlowWatcherDoesNotBlockPublisher(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, func(s *server) { s.writeTimeout = time.Hour })
	r := dialRaw(t, ts.path)
	r.send(`{"id":1,"op":"watch"}` + "\n")
	waitFor(t, "subscribe", 5*time.Second, func() bool { return fb.Subscribers() == 1 })

	// 2000 snapshots of 8 KiB: 16 MiB, far more than a socket buffer holds.
	const n = 2000
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 1; i <= n; i++ {
			fb.publish(snapWith(i, 8<<10))
		}
	}()
	select {
	case <-published:
	case <-time.After(30 * time.Second):
		t.Fatal("the publisher was blocked by a client that does not read")
	}
	if fb.Subscribers() != 1 {
		t.Fatal("the server dropped the watch; this test needs it held")
	}
	// Now read: snapshots come in order of publication, some skipped, and
	// the last one arrives.
	last := -1
	for last != n {
		resp := r.read()
		if resp.ID != 1 || resp.Snapshot == nil {
			t.Fatalf("unexpected %+v", resp)
		}
		got := resp.Snapshot.Profiles[0].Reconnects
		if got <= last {
			t.Fatalf("snapshot %d after %d: out of order", got, last)
		}
		last = got
	}
}

// TestStuckClientIsDropped: a client that never reads is dropped once a
// write has waited the write timeout, ending its watch; other clients are
// served meanwhile.
func TestStuckClientIsDropped(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, func(s *server) { s.writeTimeout = 200 * time.Millisecond })
	r := dialRaw(t, ts.path)
	r.send(`{"id":1,"op":"watch"}` + "\n")
	waitFor(t, "subscribe", 5*time.Second, func() bool { return fb.Subscribers() == 1 })

	stopPub := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 1; ; i++ {
			select {
			case <-stopPub:
				return
			default:
			}
			fb.publish(snapWith(i, 8<<10))
		}
	}()
	waitFor(t, "the stuck client to be dropped", 20*time.Second, func() bool { return fb.Subscribers() == 0 })
	if _, err := dialT(t, ts.path).Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	close(stopPub)
	<-pubDone
	// What the socket buffered can still be read, then the connection ends.
	for {
		if _, ok := r.tryRead(); !ok {
			break
		}
	}
	var ne net.Error
	if errors.As(r.sc.Err(), &ne) && ne.Timeout() {
		t.Fatal("the dropped connection is still open")
	}
}

func TestTooManyWatches(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, nil)
	r := dialRaw(t, ts.path)
	for i := 1; i <= maxWatches+1; i++ {
		r.send(fmt.Sprintf(`{"id":%d,"op":"watch"}`+"\n", i))
	}
	var refused []uint64
	for seen := 0; seen < maxWatches+1; {
		resp := r.read()
		if !resp.OK {
			refused = append(refused, resp.ID)
			if !strings.Contains(resp.Error, "too many watches") {
				t.Errorf("refusal %+v", resp)
			}
		}
		seen++
	}
	if len(refused) != 1 || refused[0] != maxWatches+1 {
		t.Errorf("refused ids %v, want [%d]", refused, maxWatches+1)
	}
	// The connection still works.
	r.send(`{"id":100,"op":"hello"}` + "\n")
	if resp := r.read(); resp.ID != 100 || !resp.OK {
		t.Errorf("hello after the refusal: %+v", resp)
	}
}

// TestServeShutdown: Serve returns after ctx ends, with clients connected
// mid-watch and mid-request, and leaves no goroutine behind.
func TestServeShutdown(t *testing.T) {
	defer goleak.VerifyNone(t)
	fb := newFake(snapWith(0, 0))
	fb.gate = make(chan struct{}) // Start never returns on its own
	path := shortDir(t) + "/s/kuguri.sock"
	ln, err := Listen(path)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, fb, nil) }()

	c, err := Dial(testCtx(t), path)
	must(t, err)
	ch, err := c.Watch(testCtx(t))
	must(t, err)
	<-ch
	startErr := make(chan error, 1)
	go func() { startErr <- c.Start(context.Background(), "vps") }()
	idle := dialRaw(t, path)
	idle.send(`{"id":1,"op":"hel`)
	waitFor(t, "three connections", 5*time.Second, func() bool { return len(fb.Calls()) == 0 && fb.Subscribers() == 1 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after ctx ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return 10s after ctx ended")
	}
	if err := <-startErr; err == nil {
		t.Error("Start succeeded though the server stopped mid-call")
	}
	for range ch {
	}
	idle.expectClosed()
	idle.c.Close()
	c.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after Serve: %v", err)
	}
}
