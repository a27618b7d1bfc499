package tui

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kuguri/kuguri/tunnel/api"
)

func stripANSI(s string) string { return ansi.Strip(s) }

// squash collapses every run of white space (line breaks included) to one
// space, so that text wrapped over lines can be searched.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestStateLabels(t *testing.T) {
	now := t0
	cases := []struct {
		p    api.Profile
		want string
	}{
		{api.Profile{State: api.Up}, "up"},
		{api.Profile{State: api.Connecting, Attempt: 1}, "connecting"},
		{api.Profile{State: api.Connecting, Attempt: 2}, "connecting (attempt 2)"},
		{api.Profile{State: api.Reconnecting, Attempt: 3, NextRetry: now.Add(4 * time.Second)}, "reconnecting (attempt 3, next in 4s)"},
		{api.Profile{State: api.Reconnecting, Attempt: 3, NextRetry: now.Add(3200 * time.Millisecond)}, "reconnecting (attempt 3, next in 4s)"},
		{api.Profile{State: api.Reconnecting, Attempt: 7, NextRetry: now.Add(-time.Second)}, "reconnecting (attempt 7, next in now)"},
		{api.Profile{State: api.Reconnecting, Attempt: 2}, "reconnecting (attempt 2)"},
		{api.Profile{State: api.Failed, ErrorKind: api.KindHostKey, LastError: "hop 2 (vps:22022): host key for [vps]:22022 changed: see /home/a/.ssh/known_hosts:12"}, "failed: host key changed"},
		{api.Profile{State: api.Failed, ErrorKind: api.KindHostKey, LastError: "host key is @revoked"}, "failed: host key revoked"},
		{api.Profile{State: api.Failed, ErrorKind: api.KindAuth}, "failed: authentication"},
		{api.Profile{State: api.Failed, ErrorKind: api.KindConfig}, "failed: config error"},
		{api.Profile{State: api.Failed}, "failed"},
		{api.Profile{State: api.Standby}, "standby"},
		{api.Profile{State: api.Stopped}, "stopped"},
	}
	for _, c := range cases {
		if got := stateLabel(c.p, now); got != c.want {
			t.Errorf("stateLabel(%v) = %q, want %q", c.p.State, got, c.want)
		}
	}
}

func TestMainViewShowsEverything(t *testing.T) {
	m, _ := newTest(t, 120, 40, Options{})
	m = update(t, m, SnapshotMsg{fixture()})
	v := plain(m)
	for _, want := range []string{
		"● up", "◐ reconnecting (attempt 3, next in 4s)", "○ standby", "✗ failed: authentication", "· stopped",
		"bastion → vps", "1h02m", "24ms",
		"auth failed 3 times", // a note
		"127.0.0.1:5432 → 127.0.0.1:5432", "127.0.0.1:13389 → 10.0.0.5:3389",
		"127.0.0.1:1080 (SOCKS)", "server 127.0.0.1:9000 → 127.0.0.1:3000",
		"1/14", "1.2 MiB", "340 KiB", "50 MiB", "probe ok 3.2ms", "remote port forwarding request refused",
		"reconnects 2",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}

func TestSelection(t *testing.T) {
	m, _ := newTest(t, 80, 24, Options{})
	m = update(t, m, SnapshotMsg{fixture()})
	if m.selected != 0 || m.selName != "vps" {
		t.Fatalf("initial selection = %d %q", m.selected, m.selName)
	}
	m = update(t, m, press("j"))
	m = update(t, m, press("down"))
	if m.selName != "lazy-db" {
		t.Fatalf("after j, down: %q", m.selName)
	}
	m = update(t, m, press("k"))
	if m.selName != "home" {
		t.Fatalf("after k: %q", m.selName)
	}
	for range 10 {
		m = update(t, m, press("up"))
	}
	if m.selected != 0 {
		t.Fatalf("up past the top: %d", m.selected)
	}
	for range 10 {
		m = update(t, m, press("j"))
	}
	if m.selName != "old" {
		t.Fatalf("down past the bottom: %q", m.selName)
	}
	// The selection follows the profile, not the index, when the order changes.
	m = update(t, m, press("k")) // staging
	s := fixture()
	slices.Reverse(s.Profiles)
	m = update(t, m, SnapshotMsg{s})
	if m.selName != "staging" || m.snap.Profiles[m.selected].Name != "staging" {
		t.Fatalf("selection after reorder: %d %q", m.selected, m.selName)
	}
	// The selected profile's forwards are the ones shown.
	m = update(t, m, press("j")) // lazy-db after reversal? order: old staging lazy-db home vps
	if !strings.Contains(plain(m), "127.0.0.1:15432 → 127.0.0.1:5432") {
		t.Fatalf("lazy-db's forward not shown:\n%s", plain(m))
	}
}

func TestKeysCallBackend(t *testing.T) {
	cases := []struct {
		name   string
		moves  int // j presses before the key
		key    string
		want   string
		status string
	}{
		{"enter stops an up profile", 0, "enter", "stop vps", "stop vps: done"},
		{"space stops a reconnecting profile", 1, "space", "stop home", "stop home: done"},
		{"enter stops a standby profile", 2, "enter", "stop lazy-db", "stop lazy-db: done"},
		{"enter starts a failed profile", 3, "enter", "start staging", "start staging: done"},
		{"enter starts a stopped profile", 4, "enter", "start old", "start old: done"},
		{"r reconnects the selected profile", 1, "r", "reconnect home", "reconnect home: done"},
		{"a starts all", 3, "a", "start", "start all: done"},
		{"s stops all", 0, "s", "stop", "stop all: done"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, fb := newTest(t, 80, 24, Options{})
			m = update(t, m, SnapshotMsg{fixture()})
			for range c.moves {
				m = update(t, m, press("j"))
			}
			m, cmd := updateCmd(t, m, press(c.key))
			if got := fb.Calls(); len(got) != 0 {
				t.Fatalf("Update called the backend itself: %v", got)
			}
			msg := runCmd(t, cmd)
			if got := fb.Calls(); !slices.Equal(got, []string{c.want}) {
				t.Fatalf("calls = %q, want %q", got, c.want)
			}
			m = update(t, m, msg)
			if m.status != c.status || m.statusErr {
				t.Fatalf("status = %q (err %v), want %q", m.status, m.statusErr, c.status)
			}
		})
	}
}

func TestBackendErrorShown(t *testing.T) {
	fb := newFake()
	fb.opErr = api.Errorf(api.KindForward, "profile vps: forward db: listen 127.0.0.1:5432: address already in use")
	m, _ := newTest(t, 80, 24, Options{Backend: fb})
	m = update(t, m, SnapshotMsg{fixture()})
	m, cmd := updateCmd(t, m, press("r"))
	m = update(t, m, runCmd(t, cmd))
	if !m.statusErr || !strings.Contains(squash(plain(m)), "listen 127.0.0.1:5432: address already in use") {
		t.Fatalf("error not shown: %q\n%s", m.status, plain(m))
	}
}

func TestUpdateNeverWaitsForBackend(t *testing.T) {
	fb := newFake()
	fb.block = make(chan struct{})
	defer close(fb.block)
	m, _ := newTest(t, 80, 24, Options{Backend: fb})
	m = update(t, m, SnapshotMsg{fixture()})
	m = update(t, m, press("a"))
	// Update returned although Start would block: the call lives in the command.
	if m.status != "starting all…" {
		t.Fatalf("status = %q", m.status)
	}
}

func TestLogAndCopyAndHelpToggles(t *testing.T) {
	m, _ := newTest(t, 80, 24, Options{})
	m = update(t, m, SnapshotMsg{fixture()})
	if strings.Contains(plain(m), "keepalive missed once") {
		t.Fatal("log shown before l")
	}
	m = update(t, m, press("l"))
	if !m.showLog || !strings.Contains(plain(m), "keepalive missed once") {
		t.Fatalf("log pane not shown:\n%s", plain(m))
	}
	m = update(t, m, press("c"))
	v := m.View().Content
	if !m.showCopy || !strings.Contains(v, "-L 127.0.0.1:13389:10.0.0.5:3389") {
		t.Fatalf("copy view lacks the command:\n%s", v)
	}
	if v != stripANSI(v) || strings.ContainsAny(v, "│╭╮╰╯") {
		t.Fatalf("copy view is not plain text:\n%q", v)
	}
	// Joining the continued lines gives back the exact command.
	var cmdLines []string
	for _, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(l, "ssh") || (len(cmdLines) > 0 && strings.HasSuffix(cmdLines[len(cmdLines)-1], " \\")) {
			cmdLines = append(cmdLines, l)
		}
	}
	joined := strings.ReplaceAll(strings.Join(cmdLines, "\n"), " \\\n", " ")
	if joined != fixture().Profiles[0].SSHCommand {
		t.Fatalf("copy view command:\n%q\nwant\n%q", joined, fixture().Profiles[0].SSHCommand)
	}
	m = update(t, m, press("esc"))
	if m.showCopy {
		t.Fatal("esc did not leave the copy view")
	}
	short := plain(m)
	m = update(t, m, press("?"))
	if !m.help.ShowAll || !strings.Contains(plain(m), "start all") || strings.Contains(short, "start all") {
		t.Fatalf("full help not toggled:\n%s", plain(m))
	}
}

func TestQuitAndAttached(t *testing.T) {
	m, _ := newTest(t, 80, 24, Options{Attached: true})
	m = update(t, m, SnapshotMsg{fixture()})
	v := plain(m)
	if !strings.Contains(v, "attached to kuguri up") || !strings.Contains(v, "tunnels up in `kuguri up`") {
		t.Fatalf("attached view:\n%s", v)
	}
	for _, k := range []string{"q", "ctrl+c"} {
		_, cmd := updateCmd(t, m, press(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%s did not quit", k)
		}
	}
}

func TestActions(t *testing.T) {
	ran := make(chan struct{}, 1)
	m, _ := newTest(t, 80, 24, Options{Actions: []Action{
		{Key: "x", Help: "kill link", Run: func(context.Context) error { ran <- struct{}{}; return errors.New("boom") }},
	}})
	m = update(t, m, SnapshotMsg{fixture()})
	if !strings.Contains(plain(m), "x kill link") {
		t.Fatalf("action not in help:\n%s", plain(m))
	}
	m, cmd := updateCmd(t, m, press("x"))
	select {
	case <-ran:
		t.Fatal("action ran inside Update")
	default:
	}
	m = update(t, m, runCmd(t, cmd))
	<-ran
	if m.status != "kill link: boom" || !m.statusErr {
		t.Fatalf("status = %q", m.status)
	}
}

func TestDisconnected(t *testing.T) {
	fb := newFake()
	m, _ := newTest(t, 80, 24, Options{Backend: fb, Attached: true})
	msg := runCmd(t, m.startWatch())
	m, cmd := updateCmd(t, m, msg)
	fb.watch <- fixture()
	m, cmd = updateCmd(t, m, runCmd(t, cmd))
	if !m.haveSnap || cmd == nil {
		t.Fatal("snapshot not applied or subscription not re-armed")
	}
	close(fb.watch)
	m = update(t, m, runCmd(t, cmd))
	if !m.disconnected {
		t.Fatal("not marked disconnected")
	}
	v := plain(m)
	if !strings.Contains(v, "disconnected from kuguri up") || !strings.Contains(v, "vps") {
		t.Fatalf("view:\n%s", v)
	}

	// Watch failing outright is the same.
	fb2 := newFake()
	fb2.watchErr = errors.New("dial unix /run/kuguri.sock: connection refused")
	m2, _ := newTest(t, 50, 20, Options{Backend: fb2, Attached: true})
	m2 = update(t, m2, runCmd(t, m2.startWatch()))
	if v := plain(m2); !strings.Contains(v, "disconnected from kuguri up") || !strings.Contains(v, "connection refused") {
		t.Fatalf("view:\n%s", v)
	}
}

func TestRates(t *testing.T) {
	c := &clock{t: t0}
	m, _ := newTest(t, 120, 40, Options{Now: c.Now})
	s := fixture()
	m = update(t, m, SnapshotMsg{s})
	if in, out, ok := m.rate("vps", s.Profiles[0].Forwards[0], 0); ok || in != 0 || out != 0 {
		t.Fatalf("a rate after one sample: %v %v %v", in, out, ok)
	}
	// Snapshots closer together than the window do not make a rate.
	c.Add(100 * time.Millisecond)
	s.Profiles[0].Forwards[0].BytesIn += 999999
	m = update(t, m, SnapshotMsg{s})
	if _, _, ok := m.rate("vps", s.Profiles[0].Forwards[0], 0); ok {
		t.Fatal("rate computed over 100ms")
	}
	c.Add(1900 * time.Millisecond) // 2s after the first sample
	s = fixture()
	s.Profiles[0].Forwards[0].BytesIn += 4096
	s.Profiles[0].Forwards[0].BytesOut += 2 * 1024 * 1024
	m = update(t, m, SnapshotMsg{s})
	in, out, ok := m.rate("vps", s.Profiles[0].Forwards[0], 0)
	if !ok || in != 2048 || out != 1024*1024 {
		t.Fatalf("rates = %v %v %v, want 2048 1048576", in, out, ok)
	}
	if v := plain(m); !strings.Contains(v, "2.0 KiB/s") || !strings.Contains(v, "1.0 MiB/s") {
		t.Fatalf("rates not shown:\n%s", v)
	}
	// No new sample for a while: the rate reads zero again.
	c.Add(10 * time.Second)
	if in, out, _ := m.rate("vps", s.Profiles[0].Forwards[0], 0); in != 0 || out != 0 {
		t.Fatalf("stale rates = %v %v", in, out)
	}
	// Counters going backwards (a restart) do not make a huge rate.
	s.Profiles[0].Forwards[0].BytesIn = 10
	m = update(t, m, SnapshotMsg{s})
	if in, _, _ := m.rate("vps", s.Profiles[0].Forwards[0], 0); in != 0 {
		t.Fatalf("rate after reset = %v", in)
	}
}

func TestRTTHistory(t *testing.T) {
	m, _ := newTest(t, 120, 40, Options{})
	s := fixture()
	for i := range 40 {
		s.Profiles[0].RTTMillis = float64(10 + i%8)
		m = update(t, m, SnapshotMsg{s})
		m = update(t, m, SnapshotMsg{s}) // repeats do not add samples
	}
	h := m.rtt["vps"]
	if len(h) != rttHistory || h[len(h)-1] != 17 {
		t.Fatalf("history = %v", h)
	}
	if !strings.Contains(plain(m), "▁▂▃▄▅▆▇█") {
		t.Fatalf("no sparkline:\n%s", plain(m))
	}
}

// ask starts a Prompter call on an "engine" goroutine and delivers the
// question to the model, returning the model and a channel with the result.
func ask[T any](t *testing.T, m Model, p *Prompter, call func() (T, error)) (Model, chan result[T]) {
	t.Helper()
	res := make(chan result[T], 1)
	go func() {
		v, err := call()
		res <- result[T]{v, err}
	}()
	msg := runCmd(t, waitPrompt(context.Background(), p))
	pm, ok := msg.(promptMsg)
	if !ok {
		t.Fatalf("got %T, want promptMsg", msg)
	}
	return update(t, m, pm), res
}

type result[T any] struct {
	v   T
	err error
}

func wait[T any](t *testing.T, ch chan result[T]) result[T] {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the engine-side call did not return")
	}
	return result[T]{}
}

func hostKeyQ() api.HostKeyQuestion {
	return api.HostKeyQuestion{
		Profile: "vps", Hop: 2, HopName: "vps", Addr: "vps.example.net:22022", KeyType: "ssh-ed25519",
		Fingerprint:    "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
		KnownHostsFile: "/home/alice/.ssh/known_hosts",
	}
}

func TestHostKeyPrompt(t *testing.T) {
	cases := []struct {
		keys []string
		want api.HostKeyDecision
	}{
		{[]string{"s"}, api.AcceptAndSave},
		{[]string{"o"}, api.AcceptOnce},
		{[]string{"n"}, api.Reject},
		{[]string{"esc"}, api.Reject},
		{[]string{"enter"}, api.Reject}, // the default never trusts
		{[]string{"down", "enter"}, api.AcceptOnce},
		{[]string{"tab", "tab", "enter"}, api.AcceptAndSave},
		{[]string{"up", "enter"}, api.AcceptAndSave},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.keys, "+"), func(t *testing.T) {
			p := NewPrompter()
			m, fb := newTest(t, 80, 24, Options{Prompter: p})
			m = update(t, m, SnapshotMsg{fixture()})
			m, res := ask(t, m, p, func() (api.HostKeyDecision, error) {
				return p.HostKey(context.Background(), hostKeyQ())
			})
			v := plain(m)
			for _, want := range []string{"Unknown host key", "vps.example.net:22022", "ssh-ed25519", hostKeyQ().Fingerprint, "/home/alice/.ssh/known_hosts", "accept once", "accept and save", "reject"} {
				if !strings.Contains(v, want) {
					t.Fatalf("prompt lacks %q:\n%s", want, v)
				}
			}
			for _, k := range c.keys {
				m = update(t, m, press(k))
			}
			r := wait(t, res)
			if r.err != nil || r.v != c.want {
				t.Fatalf("decision = %v, %v; want %v", r.v, r.err, c.want)
			}
			if m.activePrompt() != nil || strings.Contains(plain(m), "Unknown host key") {
				t.Fatal("prompt still shown after the answer")
			}
			if len(fb.Calls()) != 0 {
				t.Fatalf("prompt keys reached the backend: %v", fb.Calls())
			}
		})
	}
}

func TestPassphrasePrompt(t *testing.T) {
	var logs bytes.Buffer
	p := NewPrompter()
	m, _ := newTest(t, 50, 20, Options{Prompter: p, Logger: newTextLogger(&logs)})
	m, res := ask(t, m, p, func() ([]byte, error) {
		return p.Passphrase(context.Background(), api.PassphraseQuestion{Profile: "vps", HopName: "bastion", KeyFile: "/home/alice/.ssh/id_ed25519", Retry: true})
	})
	const secret = "correct horse ✓ battery"
	m = typeText(t, m, secret)
	v := plain(m)
	if strings.Contains(v, "horse") || !strings.Contains(v, "•••••") {
		t.Fatalf("passphrase not masked:\n%s", v)
	}
	if !strings.Contains(v, "id_ed25519") || !strings.Contains(v, "did not work") {
		t.Fatalf("prompt lacks the key file or the retry note:\n%s", v)
	}
	m = update(t, m, press("enter"))
	r := wait(t, res)
	if r.err != nil || string(r.v) != secret {
		t.Fatalf("passphrase = %q, %v", r.v, r.err)
	}
	if strings.Contains(logs.String(), "horse") {
		t.Fatalf("the secret reached the log:\n%s", logs.String())
	}
	if m.activePrompt() != nil {
		t.Fatal("prompt still open")
	}

	// esc cancels: an auth-class error.
	m, res = ask(t, m, p, func() ([]byte, error) {
		return p.Passphrase(context.Background(), api.PassphraseQuestion{Profile: "vps", KeyFile: "k"})
	})
	m = update(t, m, press("esc"))
	r = wait(t, res)
	if !errors.Is(r.err, ErrCancelled) || api.KindOf(r.err) != api.KindAuth || r.v != nil {
		t.Fatalf("cancel: %q, %v", r.v, r.err)
	}
	_ = m
}

func TestKeyboardInteractivePrompt(t *testing.T) {
	p := NewPrompter()
	m, _ := newTest(t, 80, 24, Options{Prompter: p})
	q := api.KeyboardInteractiveQuestion{
		Profile: "vps", HopName: "vps", User: "alice", Instruction: "Two factors, please.",
		Questions: []string{"Username hint: ", "Verification code: "}, Echo: []bool{true, false},
	}
	m, res := ask(t, m, p, func() ([]string, error) { return p.KeyboardInteractive(context.Background(), q) })
	m = typeText(t, m, "visible-one")
	m = update(t, m, press("enter")) // moves to the next question
	m = typeText(t, m, "424242")
	v := plain(m)
	if !strings.Contains(v, "visible-one") || strings.Contains(v, "424242") || !strings.Contains(v, "Verification code:") {
		t.Fatalf("echo handling wrong:\n%s", v)
	}
	m = update(t, m, press("enter"))
	r := wait(t, res)
	if r.err != nil || !slices.Equal(r.v, []string{"visible-one", "424242"}) {
		t.Fatalf("answers = %q, %v", r.v, r.err)
	}
	_ = m

	// No questions: answered at once, nobody asked.
	ans, err := p.KeyboardInteractive(context.Background(), api.KeyboardInteractiveQuestion{Profile: "vps"})
	if err != nil || len(ans) != 0 {
		t.Fatalf("empty round: %q, %v", ans, err)
	}
}

func TestPromptContextCancelUnblocks(t *testing.T) {
	p := NewPrompter()
	m, _ := newTest(t, 80, 24, Options{Prompter: p})
	ctx, cancel := context.WithCancel(context.Background())
	m, res := ask(t, m, p, func() ([]byte, error) {
		return p.Passphrase(ctx, api.PassphraseQuestion{Profile: "vps", KeyFile: "k"})
	})
	gone := watchPromptCtx(m.activePrompt().req)
	cancel()
	r := wait(t, res)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v", r.err)
	}
	m = update(t, m, runCmd(t, gone))
	if m.activePrompt() != nil || strings.Contains(plain(m), "Key passphrase") {
		t.Fatalf("withdrawn prompt still shown:\n%s", plain(m))
	}

	// A question asked while nobody listens ends with its ctx too.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := p.HostKey(ctx2, hostKeyQ()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unheard question: %v", err)
	}
	// After the TUI has gone, questions fail at once.
	p.close()
	if _, err := p.Passphrase(context.Background(), api.PassphraseQuestion{}); !errors.Is(err, api.ErrNoPrompter) {
		t.Fatalf("after close: %v", err)
	}
}

func TestPromptQueue(t *testing.T) {
	p := NewPrompter()
	m, _ := newTest(t, 80, 24, Options{Prompter: p})
	m, res1 := ask(t, m, p, func() (api.HostKeyDecision, error) { return p.HostKey(context.Background(), hostKeyQ()) })
	m, res2 := ask(t, m, p, func() ([]byte, error) {
		return p.Passphrase(context.Background(), api.PassphraseQuestion{Profile: "home", KeyFile: "k2"})
	})
	if !strings.Contains(plain(m), "(1 more waiting)") || !strings.Contains(plain(m), "Unknown host key") {
		t.Fatalf("queue not shown:\n%s", plain(m))
	}
	m = update(t, m, press("o"))
	if r := wait(t, res1); r.v != api.AcceptOnce {
		t.Fatalf("first answer %v", r.v)
	}
	m = typeText(t, m, "pw")
	m = update(t, m, press("enter"))
	if r := wait(t, res2); string(r.v) != "pw" {
		t.Fatalf("second answer %q", r.v)
	}
}

func TestHostKeyFailureIsABlockingBox(t *testing.T) {
	m, fb := newTest(t, 80, 24, Options{})
	s := fixture()
	s.Profiles[0].State = api.Failed
	s.Profiles[0].ErrorKind = api.KindHostKey
	s.Profiles[0].LastError = "hop 2 (vps.example.net:22022): host key changed: the known key is at /home/alice/.ssh/known_hosts:12"
	m = update(t, m, SnapshotMsg{s})
	v := plain(m)
	if !strings.Contains(v, "Host key verification failed") || !strings.Contains(v, "known_hosts:12") || !strings.Contains(v, "failed: host key changed") {
		t.Fatalf("box:\n%s", v)
	}
	if strings.Contains(v, "accept") {
		t.Fatalf("a changed key must never be offered for acceptance:\n%s", v)
	}
	// Blocking: keys do not reach the main view.
	m, cmd := updateCmd(t, m, press("a"))
	m = update(t, m, press("j"))
	if cmd != nil || m.selected != 0 || len(fb.Calls()) != 0 {
		t.Fatalf("keys went through the box: cmd=%v sel=%d calls=%v", cmd != nil, m.selected, fb.Calls())
	}
	m = update(t, m, press("esc"))
	if strings.Contains(plain(m), "Host key verification failed") {
		t.Fatal("box not dismissed")
	}
	// Still failed in the table, and the box stays dismissed for that failure.
	m = update(t, m, SnapshotMsg{s})
	if v := plain(m); strings.Contains(v, "Host key verification failed") || !strings.Contains(v, "failed: host key changed") {
		t.Fatalf("after dismiss:\n%s", v)
	}
	// A new failure (new Since) shows it again.
	s.Profiles[0].Since = s.Profiles[0].Since.Add(time.Minute)
	m = update(t, m, SnapshotMsg{s})
	if !strings.Contains(plain(m), "Host key verification failed") {
		t.Fatal("new failure not shown")
	}
}
