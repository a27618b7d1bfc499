package tui

import (
	"charm.land/bubbles/v2/key"
)

// keyMap is the main view's key bindings. Options.Actions add theirs after
// the built-in ones.
type keyMap struct {
	Up        key.Binding
	Down      key.Binding
	Toggle    key.Binding
	Reconnect key.Binding
	StartAll  key.Binding
	StopAll   key.Binding
	Log       key.Binding
	Copy      key.Binding
	Help      key.Binding
	Quit      key.Binding

	// Actions are Options.Actions, in order.
	Actions []key.Binding

	// narrow puts help and quit first in the short help, so that they
	// survive the truncation of a phone-sized line.
	narrow bool
}

func newKeyMap(attached bool, actions []Action) keyMap {
	quitHelp := "quit"
	if attached {
		quitHelp = "quit (tunnels stay up)"
	}
	k := keyMap{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Toggle:    key.NewBinding(key.WithKeys("enter", "space"), key.WithHelp("enter", "start/stop")),
		Reconnect: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reconnect")),
		StartAll:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "start all")),
		StopAll:   key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "stop all")),
		Log:       key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "log")),
		Copy:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "ssh command")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", quitHelp)),
	}
	for _, a := range actions {
		k.Actions = append(k.Actions, key.NewBinding(key.WithKeys(a.Key), key.WithHelp(a.Key, a.Help)))
	}
	return k
}

// ShortHelp is the one line always shown at the bottom.
func (k keyMap) ShortHelp() []key.Binding {
	if k.narrow {
		b := []key.Binding{k.Toggle, k.Help, k.Quit, k.Reconnect, k.Log, k.Copy}
		return append(b, k.Actions...)
	}
	b := []key.Binding{k.Toggle, k.Reconnect, k.Log, k.Copy}
	b = append(b, k.Actions...)
	return append(b, k.Help, k.Quit)
}

// FullHelp is shown on `?`.
func (k keyMap) FullHelp() [][]key.Binding {
	cols := [][]key.Binding{
		{k.Up, k.Down, k.Toggle},
		{k.Reconnect, k.StartAll, k.StopAll},
		{k.Log, k.Copy, k.Help, k.Quit},
	}
	if len(k.Actions) > 0 {
		cols = append(cols, k.Actions)
	}
	return cols
}

// promptKeyMap is active while a prompt or an error box is open.
type promptKeyMap struct {
	Submit   key.Binding
	Cancel   key.Binding
	Next     key.Binding
	Prev     key.Binding
	Once     key.Binding
	Save     key.Binding
	Reject   key.Binding
	Dismiss  key.Binding
	ForceQ   key.Binding
	choosing bool // host-key prompt: show the choice keys
	errorBox bool // error box: only dismiss
}

func newPromptKeyMap() promptKeyMap {
	return promptKeyMap{
		Submit:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "ok")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Next:    key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next")),
		Prev:    key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "prev")),
		Once:    key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "once")),
		Save:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save")),
		Reject:  key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "reject")),
		Dismiss: key.NewBinding(key.WithKeys("enter", "esc"), key.WithHelp("enter/esc", "dismiss")),
		ForceQ:  key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

func (k promptKeyMap) ShortHelp() []key.Binding {
	switch {
	case k.errorBox:
		return []key.Binding{k.Dismiss, k.ForceQ}
	case k.choosing:
		return []key.Binding{k.Once, k.Save, k.Reject, k.Submit, k.Next}
	}
	return []key.Binding{k.Submit, k.Next, k.Cancel}
}

func (k promptKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }
