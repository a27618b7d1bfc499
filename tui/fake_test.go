package tui

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/kuguri/kuguri/profile/forwardtype"
	"github.com/kuguri/kuguri/tunnel/api"
)

// fakeBackend records calls; Watch hands out a channel the test feeds.
type fakeBackend struct {
	mu       sync.Mutex
	calls    []string
	watch    chan api.Snapshot
	watchErr error
	opErr    error
	block    chan struct{} // when non-nil, Start waits for it to close
}

func newFake() *fakeBackend { return &fakeBackend{watch: make(chan api.Snapshot, 1)} }

func (f *fakeBackend) record(op string, names []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.TrimSpace(op+" "+strings.Join(names, " ")))
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) Snapshot(context.Context) (api.Snapshot, error) { return api.Snapshot{}, nil }

func (f *fakeBackend) Watch(context.Context) (<-chan api.Snapshot, error) {
	if f.watchErr != nil {
		return nil, f.watchErr
	}
	return f.watch, nil
}

func (f *fakeBackend) Start(ctx context.Context, names ...string) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.record("start", names)
	return f.opErr
}

func (f *fakeBackend) Stop(_ context.Context, names ...string) error {
	f.record("stop", names)
	return f.opErr
}

func (f *fakeBackend) Reconnect(_ context.Context, names ...string) error {
	f.record("reconnect", names)
	return f.opErr
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// fixture is a snapshot with one profile in each interesting state.
func fixture() api.Snapshot {
	return api.Snapshot{Profiles: []api.Profile{
		{
			Name: "vps", State: api.Up, Since: t0.Add(-(time.Hour + 2*time.Minute + 3*time.Second)),
			RTTMillis: 24, Reconnects: 2, Hops: []string{"bastion", "vps"},
			SSHCommand: "ssh -J alice@bastion.example.net:22 -p 22022 -i ~/.ssh/id_ed25519 -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -L 127.0.0.1:5432:127.0.0.1:5432 -L 127.0.0.1:13389:10.0.0.5:3389 -D 127.0.0.1:1080 -N alice@vps.example.net",
			Forwards: []api.Forward{
				{Name: "db", Type: forwardtype.Local, Listen: "127.0.0.1:5432", Target: "127.0.0.1:5432", State: api.Listening, Active: 1, Total: 14, BytesIn: 1258291, BytesOut: 348160,
					Probe: &api.Probe{At: t0, OK: true, Millis: 3.2}},
				{Name: "rdp", Type: forwardtype.Local, Listen: "127.0.0.1:13389", Target: "10.0.0.5:3389", State: api.Listening, Total: 3, BytesIn: 52428800, BytesOut: 1048576},
				{Name: "socks", Type: forwardtype.Dynamic, Listen: "127.0.0.1:1080", State: api.Listening},
				{Name: "back", Type: forwardtype.Remote, Listen: "127.0.0.1:9000", Target: "127.0.0.1:3000", State: api.Error, LastError: "remote port forwarding request refused"},
			},
			Events: []api.Event{
				{At: t0.Add(-time.Hour - 3*time.Minute), Level: "info", Text: "connecting via bastion"},
				{At: t0.Add(-time.Hour - 2*time.Minute), Level: "info", Text: "up (hop 2 vps.example.net:22022)"},
				{At: t0.Add(-10 * time.Minute), Level: "warn", Text: "keepalive missed once"},
			},
		},
		{
			Name: "home", State: api.Reconnecting, Since: t0.Add(-time.Minute), Attempt: 3, NextRetry: t0.Add(4 * time.Second),
			LastError: "hop 1 (home.example.net:22): dial tcp: i/o timeout", ErrorKind: api.KindNetwork, Hops: []string{"home"},
			Forwards: []api.Forward{{Name: "nas", Type: forwardtype.Local, Listen: "127.0.0.1:5000", Target: "192.168.1.10:5000", State: api.Waiting}},
		},
		{
			Name: "lazy-db", State: api.Standby, Since: t0, Hops: []string{"vps"},
			Forwards: []api.Forward{{Name: "pg", Type: forwardtype.Local, Listen: "127.0.0.1:15432", Target: "127.0.0.1:5432", State: api.Listening}},
		},
		{
			Name: "staging", State: api.Failed, Since: t0, ErrorKind: api.KindAuth, Hops: []string{"staging"},
			LastError: "hop 1 (staging): ssh: unable to authenticate, attempted methods [none publickey]",
			Note:      "auth failed 3 times; start it again once the key is fixed",
		},
		{Name: "old", State: api.Stopped, Since: t0, Hops: []string{"bastion", "old"}},
	}}
}

// newTest returns a model sized w x h with the frozen clock and the fixture.
func newTest(t *testing.T, w, h int, opts Options) (Model, *fakeBackend) {
	t.Helper()
	fb, _ := opts.Backend.(*fakeBackend)
	if opts.Backend == nil {
		fb = newFake()
		opts.Backend = fb
	}
	if opts.Now == nil {
		c := &clock{t: t0}
		opts.Now = c.Now
	}
	m := New(opts)
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return m, fb
}

// update feeds one message and returns the new model (commands are dropped).
func update(t *testing.T, m Model, msg tea.Msg) Model {
	t.Helper()
	m2, _ := m.Update(msg)
	return m2.(Model)
}

// updateCmd feeds one message and returns the model and the command.
func updateCmd(t *testing.T, m Model, msg tea.Msg) (Model, tea.Cmd) {
	t.Helper()
	m2, cmd := m.Update(msg)
	return m2.(Model), cmd
}

// press is a key press as the terminal would send it.
func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)
	if len(r) != 1 {
		panic(fmt.Sprintf("press: unknown key %q", s))
	}
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

// typeText types s into m, one key at a time.
func typeText(t *testing.T, m Model, s string) Model {
	t.Helper()
	for _, r := range s {
		m = update(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return m
}

// runCmd runs cmd (which must not be a batch) with a deadline and returns its message.
func runCmd(t *testing.T, cmd tea.Cmd) tea.Msg {
	t.Helper()
	if cmd == nil {
		t.Fatal("expected a command, got nil")
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		return msg
	case <-time.After(5 * time.Second):
		t.Fatal("command did not return within 5s")
	}
	return nil
}

// plain is the view without ANSI sequences.
func plain(m Model) string { return stripANSI(m.View().Content) }

func newTextLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
