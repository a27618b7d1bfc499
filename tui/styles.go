package tui

import (
	"charm.land/lipgloss/v2"

	"github.com/kuguri/kuguri/tunnel/api"
)

// styles holds every lipgloss style the TUI renders with. Colours are the
// terminal's 16 ANSI colours so that they follow the user's theme; the
// renderer downsamples or drops them (NO_COLOR, a dumb terminal). Nothing
// relies on colour alone: every state also has a text label and a glyph.
type styles struct {
	app      lipgloss.Style // the "kuguri" title pill
	header   lipgloss.Style
	dim      lipgloss.Style
	faint    lipgloss.Style
	bold     lipgloss.Style
	selected lipgloss.Style // the selected profile's name
	marker   lipgloss.Style // the selection marker
	colHead  lipgloss.Style // table column headings
	rule     lipgloss.Style // section rules
	section  lipgloss.Style // section titles on rules
	errText  lipgloss.Style
	warnText lipgloss.Style
	okText   lipgloss.Style
	banner   lipgloss.Style
	spark    lipgloss.Style
	status   lipgloss.Style

	stateStyle   map[api.State]lipgloss.Style
	forwardStyle map[api.ForwardState]lipgloss.Style

	box        lipgloss.Style // modal boxes at roomy widths
	boxTitle   lipgloss.Style
	errBox     lipgloss.Style
	errTitle   lipgloss.Style
	choice     lipgloss.Style
	choiceSel  lipgloss.Style
	label      lipgloss.Style
	disconnect lipgloss.Style
}

func defaultStyles() styles {
	var (
		colRed     = lipgloss.Color("1")
		colGreen   = lipgloss.Color("2")
		colYellow  = lipgloss.Color("3")
		colBlue    = lipgloss.Color("4")
		colMagenta = lipgloss.Color("5")
		colCyan    = lipgloss.Color("6")
		colGray    = lipgloss.Color("8")
	)
	s := styles{
		app:      lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(colCyan).Padding(0, 1),
		header:   lipgloss.NewStyle(),
		dim:      lipgloss.NewStyle().Foreground(colGray),
		faint:    lipgloss.NewStyle().Faint(true),
		bold:     lipgloss.NewStyle().Bold(true),
		selected: lipgloss.NewStyle().Bold(true),
		marker:   lipgloss.NewStyle().Foreground(colCyan).Bold(true),
		colHead:  lipgloss.NewStyle().Foreground(colGray),
		rule:     lipgloss.NewStyle().Foreground(colGray),
		section:  lipgloss.NewStyle().Foreground(colCyan).Bold(true),
		errText:  lipgloss.NewStyle().Foreground(colRed),
		warnText: lipgloss.NewStyle().Foreground(colYellow),
		okText:   lipgloss.NewStyle().Foreground(colGreen),
		banner:   lipgloss.NewStyle().Foreground(colMagenta),
		spark:    lipgloss.NewStyle().Foreground(colBlue),
		status:   lipgloss.NewStyle().Foreground(colGray),

		stateStyle: map[api.State]lipgloss.Style{
			api.Stopped:      lipgloss.NewStyle().Foreground(colGray),
			api.Standby:      lipgloss.NewStyle().Foreground(colBlue),
			api.Connecting:   lipgloss.NewStyle().Foreground(colYellow),
			api.Up:           lipgloss.NewStyle().Foreground(colGreen),
			api.Reconnecting: lipgloss.NewStyle().Foreground(colYellow),
			api.Failed:       lipgloss.NewStyle().Foreground(colRed).Bold(true),
		},
		forwardStyle: map[api.ForwardState]lipgloss.Style{
			api.Closed:    lipgloss.NewStyle().Foreground(colGray),
			api.Listening: lipgloss.NewStyle().Foreground(colGreen),
			api.Waiting:   lipgloss.NewStyle().Foreground(colYellow),
			api.Error:     lipgloss.NewStyle().Foreground(colRed),
		},

		box:        lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(colCyan).Padding(0, 1),
		boxTitle:   lipgloss.NewStyle().Bold(true).Foreground(colCyan),
		errBox:     lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(colRed).Padding(0, 1),
		errTitle:   lipgloss.NewStyle().Bold(true).Foreground(colRed),
		choice:     lipgloss.NewStyle(),
		choiceSel:  lipgloss.NewStyle().Bold(true).Foreground(colCyan),
		label:      lipgloss.NewStyle().Foreground(colGray),
		disconnect: lipgloss.NewStyle().Bold(true).Foreground(colRed),
	}
	return s
}

// stateGlyph is the one-cell sign drawn before a state label.
func stateGlyph(s api.State) string {
	switch s {
	case api.Up:
		return "●"
	case api.Connecting, api.Reconnecting:
		return "◐"
	case api.Standby:
		return "○"
	case api.Failed:
		return "✗"
	default:
		return "·"
	}
}
