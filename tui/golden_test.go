package tui

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/kuguri/kuguri/tunnel/api"
)

// scenario builds a model in a given state at a given size.
type scenario struct {
	name  string
	build func(t *testing.T, w, h int) Model
}

// withRates feeds the fixture twice, two seconds apart, so rates show.
func withRates(t *testing.T, w, h int, opts Options) Model {
	c := &clock{t: t0.Add(-2 * time.Second)}
	opts.Now = c.Now
	m, _ := newTest(t, w, h, opts)
	s := fixture()
	m = update(t, m, SnapshotMsg{s})
	c.Add(2 * time.Second)
	s = fixture()
	s.Profiles[0].Forwards[0].BytesIn += 6 * 1024
	s.Profiles[0].Forwards[0].BytesOut += 1024
	s.Profiles[0].Forwards[1].BytesIn += 3 * 1024 * 1024
	m = update(t, m, SnapshotMsg{s})
	for _, rtt := range []float64{22, 31, 25, 19, 40, 27, 24} {
		s.Profiles[0].RTTMillis = rtt
		m = update(t, m, SnapshotMsg{s})
	}
	return m
}

// pushPrompt shows a question without an engine goroutine behind it.
func pushPrompt(t *testing.T, m Model, req *promptRequest) Model {
	req.ctx = context.Background()
	req.reply = make(chan promptReply, 1)
	req.done = make(chan struct{})
	return update(t, m, promptMsg{req: req})
}

func scenarios() []scenario {
	return []scenario{
		{"main", func(t *testing.T, w, h int) Model { return withRates(t, w, h, Options{}) }},
		{"banner_attached", func(t *testing.T, w, h int) Model {
			return withRates(t, w, h, Options{Attached: true, Banner: "try: curl http://127.0.0.1:18080/",
				Actions: []Action{{Key: "x", Help: "drop links", Run: func(context.Context) error { return nil }}}})
		}},
		{"second_selected_log", func(t *testing.T, w, h int) Model {
			m := withRates(t, w, h, Options{})
			m = update(t, m, press("j"))
			return update(t, m, press("l"))
		}},
		{"log", func(t *testing.T, w, h int) Model {
			return update(t, withRates(t, w, h, Options{}), press("l"))
		}},
		{"full_help", func(t *testing.T, w, h int) Model {
			return update(t, withRates(t, w, h, Options{}), press("?"))
		}},
		{"copy", func(t *testing.T, w, h int) Model {
			return update(t, withRates(t, w, h, Options{}), press("c"))
		}},
		{"hostkey_prompt", func(t *testing.T, w, h int) Model {
			m := withRates(t, w, h, Options{Prompter: NewPrompter()})
			return pushPrompt(t, m, &promptRequest{kind: promptHostKey, hostKey: hostKeyQ()})
		}},
		{"passphrase_prompt", func(t *testing.T, w, h int) Model {
			m := withRates(t, w, h, Options{Prompter: NewPrompter()})
			m = pushPrompt(t, m, &promptRequest{kind: promptPassphrase, pass: api.PassphraseQuestion{
				Profile: "vps", HopName: "bastion", KeyFile: "/home/alice/.ssh/id_ed25519"}})
			return typeText(t, m, "hunter2")
		}},
		{"ki_prompt", func(t *testing.T, w, h int) Model {
			m := withRates(t, w, h, Options{Prompter: NewPrompter()})
			m = pushPrompt(t, m, &promptRequest{kind: promptKI, ki: api.KeyboardInteractiveQuestion{
				Profile: "vps", HopName: "vps", User: "alice", Name: "2FA", Instruction: "Enter the code from your authenticator app.",
				Questions: []string{"Password: ", "Verification code: "}, Echo: []bool{false, true}}})
			return typeText(t, m, "pw")
		}},
		{"hostkey_failed", func(t *testing.T, w, h int) Model {
			m, _ := newTest(t, w, h, Options{})
			s := fixture()
			s.Profiles[0].State = api.Failed
			s.Profiles[0].ErrorKind = api.KindHostKey
			s.Profiles[0].LastError = "hop 2 (vps.example.net:22022): host key changed for [vps.example.net]:22022 (ssh-ed25519 SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s); the known key is /home/alice/.ssh/known_hosts:12"
			return update(t, m, SnapshotMsg{s})
		}},
		{"disconnected", func(t *testing.T, w, h int) Model {
			m := withRates(t, w, h, Options{Attached: true})
			return update(t, m, DisconnectedMsg{})
		}},
		{"waiting", func(t *testing.T, w, h int) Model {
			m, _ := newTest(t, w, h, Options{})
			return m
		}},
	}
}

// TestGolden renders each scenario at 80x24 and at a phone's 50x20, without
// colour, against testdata/TestGolden/*.golden (refresh: go test ./tui -update).
func TestGolden(t *testing.T) {
	for _, sc := range scenarios() {
		for _, size := range [][2]int{{80, 24}, {50, 20}} {
			w, h := size[0], size[1]
			t.Run(fmt.Sprintf("%s_%dx%d", sc.name, w, h), func(t *testing.T) {
				m := sc.build(t, w, h)
				out := m.View().Content
				checkFits(t, out, w, h)
				golden.RequireEqual(t, stripANSI(out)+"\n")
			})
		}
	}
}

// checkFits fails when a line is wider than w (measured with the styles in
// place) or when there are more than h lines.
func checkFits(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Errorf("line %d is %d cells wide, terminal %d:\n%s", i+1, lw, w, stripANSI(l))
		}
	}
	if len(lines) > h {
		t.Errorf("%d lines, terminal has %d", len(lines), h)
	}
}

// TestRandomWidths renders every scenario at random sizes from 40 to 200
// columns: nothing wider than the terminal, and the essentials (every name
// and state, the selected profile's forward ports) always present.
func TestRandomWidths(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	widths := []int{40, 49, 50, 59, 60, 79, 80, 81, 200}
	for range 25 {
		widths = append(widths, 40+rng.IntN(161))
	}
	s := fixture()
	for _, w := range widths {
		for _, h := range []int{20, 60} {
			for _, sc := range scenarios() {
				m := sc.build(t, w, h)
				out := m.View().Content
				lines := strings.Split(out, "\n")
				for i, l := range lines {
					if lw := lipgloss.Width(l); lw > w {
						t.Errorf("%s at %dx%d: line %d is %d wide: %q", sc.name, w, h, i+1, lw, stripANSI(l))
					}
				}
				if len(lines) > h {
					t.Errorf("%s at %dx%d: %d lines", sc.name, w, h, len(lines))
				}
				if sc.name != "main" || h < 60 {
					continue
				}
				text := squash(stripANSI(out))
				for _, p := range s.Profiles {
					label := stateGlyph(p.State) + " " + stateLabel(p, t0)
					if !strings.Contains(text, p.Name) || !strings.Contains(text, label) {
						t.Errorf("main at %dx%d: %q or %q missing:\n%s", w, h, p.Name, label, stripANSI(out))
					}
				}
				for _, f := range s.Profiles[0].Forwards {
					if !strings.Contains(text, forwardAddr(f)) || !strings.Contains(text, f.Name) {
						t.Errorf("main at %dx%d: forward %s %q missing:\n%s", w, h, f.Name, forwardAddr(f), stripANSI(out))
					}
				}
			}
		}
	}
}

// TestResize: a WindowSizeMsg re-lays the screen out at once.
func TestResize(t *testing.T) {
	m := withRates(t, 120, 40, Options{})
	if !strings.Contains(plain(m), "PROFILE") {
		t.Fatal("roomy layout has no table header")
	}
	m = update(t, m, windowSize(50, 20))
	if strings.Contains(plain(m), "PROFILE") {
		t.Fatalf("narrow layout still shows the table header:\n%s", plain(m))
	}
	checkFits(t, m.View().Content, 50, 20)
}

func windowSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
