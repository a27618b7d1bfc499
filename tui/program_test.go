package tui

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/kuguri/kuguri/tunnel/api"
)

// TestProgram runs the model in a real tea.Program (teatest): Init
// subscribes, snapshots stream in through the re-arming command, a
// question from the engine's goroutine is answered with keys, and q quits.
func TestProgram(t *testing.T) {
	fb := newFake()
	p := NewPrompter()
	t.Cleanup(func() {
		p.close()       // ends the prompt listener
		close(fb.watch) // ends the snapshot listener
	})
	m := New(Options{Backend: fb, Prompter: p, Now: func() time.Time { return t0 }})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.NoTTY)))

	s := fixture()
	s.Profiles[0].State = api.Connecting
	fb.watch <- s
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("connecting")) },
		teatest.WithDuration(5*time.Second))
	fb.watch <- fixture() // the second snapshot arrives only if the command re-armed
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("1h02m")) },
		teatest.WithDuration(5*time.Second))

	got := make(chan api.HostKeyDecision, 1)
	go func() {
		d, _ := p.HostKey(context.Background(), hostKeyQ())
		got <- d
	}()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("Unknown host key")) },
		teatest.WithDuration(5*time.Second))
	tm.Send(press("s"))
	select {
	case d := <-got:
		if d != api.AcceptAndSave {
			t.Fatalf("decision %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer reached the engine side")
	}
	tm.Send(press("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	final := tm.FinalModel(t).(Model)
	if !final.quitting || final.activePrompt() != nil {
		t.Fatalf("final model: quitting=%v prompt=%v", final.quitting, final.activePrompt() != nil)
	}
}
