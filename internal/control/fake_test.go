package control

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kuguri/kuguri/tunnel/api"
)

// fakeBackend is an api.Backend whose state the test sets. Its publisher
// sends every snapshot to every watcher with a blocking send, so a server
// that stops draining a watch would stall publish (which the tests check).
type fakeBackend struct {
	mu    sync.Mutex
	snap  api.Snapshot
	subs  map[*fakeSub]struct{}
	calls []string // "start a b", "stop", ...
	err   error    // returned by Snapshot, Start, Stop and Reconnect when set
	// gate, when set, holds Start until it is closed or ctx ends.
	gate chan struct{}
}

type fakeSub struct {
	ch  chan api.Snapshot
	ctx context.Context
}

var _ api.Backend = (*fakeBackend)(nil)

func newFake(snap api.Snapshot) *fakeBackend {
	return &fakeBackend{snap: snap, subs: make(map[*fakeSub]struct{})}
}

func (f *fakeBackend) record(op string, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.TrimSpace(op+" "+strings.Join(names, " ")))
	return f.err
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeBackend) Snapshot(ctx context.Context) (api.Snapshot, error) {
	if err := f.record("snapshot", nil); err != nil {
		return api.Snapshot{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap, nil
}

func (f *fakeBackend) Watch(ctx context.Context) (<-chan api.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	s := &fakeSub{ch: make(chan api.Snapshot, 1), ctx: ctx}
	s.ch <- f.snap
	f.subs[s] = struct{}{}
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[s]; ok { // endWatches may have closed it
			delete(f.subs, s)
			close(s.ch)
		}
	}()
	return s.ch, nil
}

// Subscribers returns the number of live watches.
func (f *fakeBackend) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// publish sets the state and hands it to every watcher, waiting for each
// to take it (or to go away).
func (f *fakeBackend) publish(snap api.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = snap
	for s := range f.subs {
		select {
		case s.ch <- snap:
		case <-s.ctx.Done():
		}
	}
}

// endWatches closes every watcher's channel as a backend shutting down does.
func (f *fakeBackend) endWatches() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		delete(f.subs, s)
		close(s.ch)
	}
}

func (f *fakeBackend) Start(ctx context.Context, names ...string) error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.record("start", names)
}

func (f *fakeBackend) Stop(ctx context.Context, names ...string) error {
	return f.record("stop", names)
}

func (f *fakeBackend) Reconnect(ctx context.Context, names ...string) error {
	return f.record("reconnect", names)
}

func snapWith(n int, pad int) api.Snapshot {
	return api.Snapshot{Profiles: []api.Profile{{
		Name:       "vps",
		State:      api.Up,
		Since:      time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Reconnects: n,
		LastError:  strings.Repeat("x", pad),
		Hops:       []string{"bastion", "vps"},
		Forwards:   []api.Forward{{Name: "db", Listen: "127.0.0.1:5432", Target: "127.0.0.1:5432", State: api.Listening}},
	}}}
}

// shortDir returns a fresh directory with a short path (socket paths are
// limited to about 100 bytes; t.TempDir's are long).
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "kctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// testServer is a running server on a fresh socket.
type testServer struct {
	path   string
	srv    *server
	cancel context.CancelFunc
	done   chan error
}

// startServer serves b on a new socket until the test ends. tweak, when not
// nil, adjusts the server before it starts.
func startServer(t *testing.T, b api.Backend, tweak func(*server)) *testServer {
	t.Helper()
	path := filepath.Join(shortDir(t), "run", "kuguri.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, path, b, tweak)
}

func serveOn(t *testing.T, ln net.Listener, path string, b api.Backend, tweak func(*server)) *testServer {
	t.Helper()
	s := newServer(b, nil)
	if tweak != nil {
		tweak(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{path: path, srv: s, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.serve(ctx, ln) }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop cancels the server and waits (bounded) for Serve to return.
func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ts.cancel()
	select {
	case err, ok := <-ts.done:
		if ok && err != nil {
			t.Errorf("Serve returned %v", err)
		}
		if ok {
			close(ts.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return 10s after its ctx ended")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func dialT(t *testing.T, path string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fmtCalls(c []string) string { return fmt.Sprintf("%q", c) }
