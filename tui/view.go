package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kuguri/kuguri/tunnel/api"
)

// View renders the whole screen. No line is wider than the terminal.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "kuguri"
	return v
}

func (m Model) narrow() bool { return m.width < narrowBelow }

// render builds the screen as text.
func (m Model) render() string {
	if m.quitting {
		if m.attached {
			return "kuguri: detached; tunnels stay up in `kuguri up`\n"
		}
		return ""
	}
	if m.showCopy {
		return m.renderCopy()
	}
	top := m.renderTop()
	bottom := m.renderBottom()
	bodyH := max(m.height-len(top)-len(bottom), 1)

	var body []string
	switch {
	case m.activePrompt() != nil:
		body = m.renderPrompt(m.activePrompt())
	case m.hasHostKeyBox():
		p, _ := m.hostKeyFailure()
		body = m.renderHostKeyBox(p)
	default:
		body = m.renderBody(bodyH)
	}
	if len(body) > bodyH {
		body = body[:bodyH]
	}
	for len(body) < bodyH {
		body = append(body, "")
	}
	lines := append(append(top, body...), bottom...)
	return strings.Join(lines, "\n")
}

func (m Model) hasHostKeyBox() bool {
	_, ok := m.hostKeyFailure()
	return ok
}

// renderTop is the title line, the banner and the disconnected warning.
func (m Model) renderTop() []string {
	w := m.width
	up := 0
	for _, p := range m.snap.Profiles {
		if p.State == api.Up {
			up++
		}
	}
	title := m.st.app.Render("kuguri")
	summary := fmt.Sprintf(" %d/%d up", up, len(m.snap.Profiles))
	if !m.haveSnap && !m.disconnected {
		summary = " waiting for the engine…"
	}
	left := title + m.st.header.Render(summary)
	right := ""
	if m.attached {
		right = "attached to kuguri up"
	}
	line := left
	if right != "" && lipgloss.Width(left)+2+lipgloss.Width(right) <= w {
		gap := w - lipgloss.Width(left) - lipgloss.Width(right)
		line = left + strings.Repeat(" ", gap) + m.st.dim.Render(right)
	}
	lines := []string{fit(line, w)}
	if m.banner != "" {
		for _, l := range wrapLines(m.banner, w) {
			lines = append(lines, m.st.banner.Render(l))
		}
	}
	if m.disconnected {
		msg := "disconnected from the engine"
		if m.attached {
			msg = "disconnected from kuguri up"
		}
		if m.discErr != nil {
			msg += ": " + oneLine(m.discErr.Error())
		}
		for _, l := range wrapLines("✗ "+msg, w) {
			lines = append(lines, m.st.disconnect.Render(l))
		}
	}
	return lines
}

// renderBottom is the status line, the attached note and the help.
func (m Model) renderBottom() []string {
	w := m.width
	var lines []string
	if m.status != "" {
		st := m.st.status
		if m.statusErr {
			st = m.st.errText
		}
		wrapped := wrapLines(m.status, w)
		if len(wrapped) > 3 {
			wrapped = append(wrapped[:2:2], fit(strings.Join(wrapped[2:], " "), w))
		}
		for _, l := range wrapped {
			lines = append(lines, st.Render(l))
		}
	}
	if m.attached && !m.narrow() {
		lines = append(lines, m.st.dim.Render(fit("q leaves the tunnels up in `kuguri up`", w)))
	} else if m.attached {
		lines = append(lines, m.st.dim.Render(fit("q: tunnels stay up in `kuguri up`", w)))
	}
	var h string
	switch {
	case m.activePrompt() != nil:
		pk := m.pkeys
		pk.choosing = m.activePrompt().req.kind == promptHostKey
		h = m.help.View(pk)
	case m.hasHostKeyBox():
		pk := m.pkeys
		pk.errorBox = true
		h = m.help.View(pk)
	case m.showCopy:
		h = ""
	default:
		km := m.keys
		km.narrow = m.narrow()
		h = m.help.View(km)
	}
	for _, l := range strings.Split(h, "\n") {
		lines = append(lines, fit(l, w))
	}
	return lines
}

// renderBody is the profile table, the selected profile's detail and
// forwards, and the log pane, fitted into h lines.
func (m Model) renderBody(h int) []string {
	w := m.width
	if !m.haveSnap {
		if m.disconnected {
			return nil
		}
		return []string{m.st.dim.Render(fit("  waiting for the first snapshot…", w))}
	}
	if len(m.snap.Profiles) == 0 {
		return []string{m.st.dim.Render(fit("  no profiles configured", w))}
	}
	var profBlocks [][]string
	var head []string
	if m.narrow() {
		profBlocks = m.narrowProfiles()
	} else {
		head, profBlocks = m.roomyProfiles()
	}
	detail := m.renderDetail()
	fwds := m.renderForwards()
	var logLines []string
	if m.showLog {
		logLines = m.renderLog()
	}

	// Budget: the profile table gets at most half the body when the rest
	// needs room; the window keeps the selection visible.
	profTotal := len(head)
	for _, b := range profBlocks {
		profTotal += len(b)
	}
	rest := len(detail) + len(fwds) + len(logLines)
	profBudget := profTotal
	if profTotal+rest > h {
		profBudget = max(min(profTotal, h-rest), min(profTotal, max(h/2, 3)))
	}
	out := append([]string{}, head...)
	out = append(out, m.windowBlocks(profBlocks, profBudget-len(head))...)

	remaining := h - len(out)
	logBudget := 0
	if len(logLines) > 0 {
		logBudget = min(len(logLines), max(remaining/3, 4))
	}
	fwdBudget := max(remaining-logBudget, 0)
	sel := append(detail, fwds...)
	if len(sel) > fwdBudget {
		hidden := len(sel) - fwdBudget + 1
		if fwdBudget >= 1 {
			sel = append(sel[:fwdBudget-1:fwdBudget-1], m.st.dim.Render(fit(fmt.Sprintf("  … %d more lines (widen or heighten the terminal)", hidden), w)))
		} else {
			sel = nil
		}
	}
	out = append(out, sel...)
	if logBudget > 0 {
		// Keep the log's title and its newest lines.
		if len(logLines) > logBudget {
			logLines = append(logLines[:1:1], logLines[len(logLines)-(logBudget-1):]...)
		}
		out = append(out, logLines...)
	}
	return out
}

// windowBlocks keeps whole profile blocks around the selection within n lines.
func (m Model) windowBlocks(blocks [][]string, n int) []string {
	total := 0
	for _, b := range blocks {
		total += len(b)
	}
	if total <= n {
		var out []string
		for _, b := range blocks {
			out = append(out, b...)
		}
		return out
	}
	lo, hi := m.selected, m.selected+1
	used := 0
	if m.selected < len(blocks) {
		used = len(blocks[m.selected])
	}
	for {
		grew := false
		if hi < len(blocks) && used+len(blocks[hi]) <= n-1 {
			used += len(blocks[hi])
			hi++
			grew = true
		}
		if lo > 0 && used+len(blocks[lo-1]) <= n-1 {
			lo--
			used += len(blocks[lo])
			grew = true
		}
		if !grew {
			break
		}
	}
	var out []string
	for _, b := range blocks[lo:hi] {
		out = append(out, b...)
	}
	more := len(blocks) - (hi - lo)
	out = append(out, m.st.dim.Render(fit(fmt.Sprintf("  … %d more profiles (↑/↓)", more), m.width)))
	if len(out) > n && n >= 0 {
		out = out[:max(n, 0)]
	}
	return out
}

// stateCell is a state's glyph and label, coloured.
func (m Model) stateCell(p api.Profile) string {
	st := m.st.stateStyle[p.State]
	return st.Render(stateGlyph(p.State) + " " + stateLabel(p, m.now()))
}

func (m Model) marker(i int) string {
	if i == m.selected {
		return m.st.marker.Render("▸") + " "
	}
	return "  "
}

func (m Model) nameCell(i int, name string) string {
	if i == m.selected {
		return m.st.selected.Render(name)
	}
	return name
}

// rttCell is "12ms ▂▃▅▂" for an up profile, "" otherwise.
func (m Model) rttCell(p api.Profile, sparkW int) string {
	if p.State != api.Up || p.RTTMillis <= 0 {
		return ""
	}
	s := rttText(p.RTTMillis)
	if sp := sparkline(m.rtt[p.Name], sparkW); sp != "" && sparkW > 0 {
		s += " " + m.st.spark.Render(sp)
	}
	return s
}

// column is one column of the roomy profile table.
type column struct {
	title string
	cells []string
	width int
}

func newColumn(title string, cells []string) column {
	c := column{title: title, cells: cells, width: ansi.StringWidth(title)}
	for _, s := range cells {
		c.width = max(c.width, ansi.StringWidth(s))
	}
	return c
}

// roomyProfiles renders the profile table: one row per profile, plus a
// faint line for its note or error. Optional columns are dropped, least
// useful first, until the row fits; the selected profile's detail block
// shows everything anyway.
func (m Model) roomyProfiles() (head []string, blocks [][]string) {
	w := m.width
	now := m.now()
	ps := m.snap.Profiles
	names := make([]string, len(ps))
	states := make([]string, len(ps))
	ups := make([]string, len(ps))
	rcs := make([]string, len(ps))
	hops := make([]string, len(ps))
	for i, p := range ps {
		names[i] = m.nameCell(i, p.Name)
		states[i] = m.stateCell(p)
		ups[i] = uptime(p, now)
		rcs[i] = fmt.Sprint(p.Reconnects)
		hops[i] = hopChain(p.Hops)
	}
	nameCol := newColumn("PROFILE", names)
	nameCol.width = min(nameCol.width, max(w/4, 12))
	stateCol := newColumn("STATE", states)
	const gap = 2
	fixed := 2 + nameCol.width + gap + stateCol.width

	sparkW := 8
	rttCells := func(sw int) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = m.rttCell(p, sw)
		}
		return out
	}
	opt := []column{newColumn("RTT", rttCells(sparkW)), newColumn("UPTIME", ups), newColumn("RECONN", rcs)}
	hopsMin := 12
	width := func(cols []column) int {
		n := fixed
		for _, c := range cols {
			n += gap + c.width
		}
		return n
	}
	showHops := true
	for width(opt)+gap+hopsMin > w {
		switch {
		case sparkW == 8:
			sparkW = 4
			opt[0] = newColumn("RTT", rttCells(sparkW))
		case len(opt) == 3:
			opt = opt[:2] // reconnects: in the detail block
		case showHops:
			showHops = false // hops: in the detail block
			hopsMin = -gap
		case len(opt) > 0:
			opt = opt[:len(opt)-1]
		default:
			goto fitted
		}
	}
fitted:
	hopsW := w - width(opt) - gap
	cols := append([]column{nameCol, stateCol}, opt...)
	if showHops {
		cols = append(cols, newColumn("HOPS", hops))
		cols[len(cols)-1].width = max(hopsW, 0)
	}
	row := func(prefix string, cells func(c column) string) string {
		var b strings.Builder
		b.WriteString(prefix)
		for j, c := range cols {
			if j > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			s := fit(cells(c), c.width)
			if j < len(cols)-1 {
				s = padRight(s, c.width)
			}
			b.WriteString(s)
		}
		return strings.TrimRight(b.String(), " ")
	}
	head = []string{m.st.colHead.Render(row("  ", func(c column) string { return c.title }))}
	for i, p := range ps {
		line := row(m.marker(i), func(c column) string { return c.cells[i] })
		block := []string{fit(line, w)}
		block = append(block, m.extraLines(p)...)
		blocks = append(blocks, block)
	}
	return head, blocks
}

// extraLines renders a profile's note or error under its row, indented,
// in at most two lines.
func (m Model) extraLines(p api.Profile) []string {
	extra := profileExtra(p)
	if extra == "" {
		return nil
	}
	st := m.st.dim
	if p.State == api.Failed {
		st = m.st.errText
	}
	lines := wrapLines(extra, max(m.width-4, 1))
	if len(lines) > 2 {
		lines = append(lines[:1:1], fit(strings.Join(lines[1:], " "), max(m.width-4, 1)))
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = st.Render("    " + l)
	}
	return out
}

// profileExtra is a profile's note, or its last error while it is not up.
func profileExtra(p api.Profile) string {
	switch {
	case p.Note != "":
		return oneLine(p.Note)
	case p.LastError != "" && p.State != api.Up && p.State != api.Stopped:
		return oneLine(p.LastError)
	}
	return ""
}

// narrowProfiles renders one block per profile for small screens: the
// name and state on one line when they fit, else the state below.
func (m Model) narrowProfiles() [][]string {
	w := m.width
	nameW := 0
	for _, p := range m.snap.Profiles {
		nameW = max(nameW, ansi.StringWidth(p.Name))
	}
	nameW = min(nameW, w/3)
	var blocks [][]string
	for i, p := range m.snap.Profiles {
		name := fit(m.nameCell(i, p.Name), max(w-2, 1))
		state := m.stateCell(p)
		if ansi.StringWidth(name) <= nameW {
			name = padRight(name, nameW)
		}
		first := m.marker(i) + name
		var block []string
		if ansi.StringWidth(first)+2+ansi.StringWidth(state) <= w {
			line := first + "  " + state
			if rtt := m.rttCell(p, 4); rtt != "" && ansi.StringWidth(line)+2+ansi.StringWidth(rtt) <= w {
				line += "  " + m.st.dim.Render(rtt)
			}
			block = append(block, line)
		} else {
			block = append(block, first)
			for _, l := range wrapLines(ansi.Strip(state), w-4) {
				block = append(block, "    "+m.st.stateStyle[p.State].Render(l))
			}
		}
		if i == m.selected {
			block = append(block, m.extraLines(p)...)
		}
		blocks = append(blocks, block)
	}
	return blocks
}

// renderDetail is the selected profile's title rule and facts: hops, round
// trip with its history, uptime, reconnects.
func (m Model) renderDetail() []string {
	p, ok := m.selectedProfile()
	if !ok {
		return nil
	}
	w := m.width
	lines := []string{m.rule(p.Name)}
	var facts []string
	if len(p.Hops) > 0 {
		facts = append(facts, m.st.label.Render("via ")+hopChain(p.Hops))
	}
	if rtt := m.rttCell(p, 12); rtt != "" {
		facts = append(facts, m.st.label.Render("rtt ")+rtt)
	}
	if u := uptime(p, m.now()); u != "" {
		facts = append(facts, m.st.label.Render("up ")+u)
	}
	facts = append(facts, m.st.label.Render("reconnects ")+fmt.Sprint(p.Reconnects))
	// Pack the facts into lines, " · " between them.
	cur := " "
	for _, f := range facts {
		f = fit(f, w-1)
		switch {
		case cur == " ":
			cur += f
		case ansi.StringWidth(cur)+3+ansi.StringWidth(f) <= w:
			cur += m.st.dim.Render(" · ") + f
		default:
			lines = append(lines, cur)
			cur = " " + f
		}
	}
	lines = append(lines, cur)
	return lines
}

// rule is a section title drawn across the width: "── title ─────".
func (m Model) rule(title string) string {
	w := m.width
	t := fit(title, max(w-4, 1))
	left := "── "
	if w < 8 {
		return m.st.section.Render(t)
	}
	n := w - 3 - ansi.StringWidth(t) - 1
	return m.st.rule.Render(left) + m.st.section.Render(t) + " " + m.st.rule.Render(strings.Repeat("─", max(n, 0)))
}

// renderForwards lists the selected profile's forwards.
func (m Model) renderForwards() []string {
	p, ok := m.selectedProfile()
	if !ok {
		return nil
	}
	w := m.width
	if len(p.Forwards) == 0 {
		return []string{m.st.dim.Render(fit("  no forwards", w))}
	}
	type fwdRow struct {
		name, addr, state, conn, in, out, probe, errText string
		fs                                               api.ForwardState
		used                                             bool // any connection or byte so far
	}
	rows := make([]fwdRow, len(p.Forwards))
	for i, f := range p.Forwards {
		r := fwdRow{
			name:    f.Name,
			addr:    forwardAddr(f),
			state:   f.State.String(),
			conn:    fmt.Sprintf("%d/%d", f.Active, f.Total),
			in:      "↓ " + humanBytes(f.BytesIn),
			out:     "↑ " + humanBytes(f.BytesOut),
			probe:   probeText(f.Probe),
			errText: oneLine(f.LastError),
			fs:      f.State,
			used:    f.Total > 0 || f.BytesIn > 0 || f.BytesOut > 0,
		}
		if r.name == "" {
			r.name = "-"
		}
		if ri, ro, ok := m.rate(p.Name, f, i); ok {
			r.in += " " + humanRate(ri)
			r.out += " " + humanRate(ro)
		}
		rows[i] = r
	}
	var out []string
	if m.narrow() {
		for _, r := range rows {
			line1 := "  " + m.st.bold.Render(r.name) + "  " + m.st.forwardStyle[r.fs].Render(r.state) + "  " + m.st.dim.Render("conn ") + r.conn
			if ansi.StringWidth(line1) > w {
				out = append(out, fit("  "+m.st.bold.Render(r.name), w))
				out = append(out, "    "+m.st.forwardStyle[r.fs].Render(r.state)+"  "+m.st.dim.Render("conn ")+r.conn)
			} else {
				out = append(out, line1)
			}
			out = append(out, m.indentWrap(r.addr, 4)...)
			if r.used {
				out = append(out, m.packLine(4, r.in, r.out))
			}
			if r.probe != "" {
				out = append(out, m.probeLine(r.probe, 4))
			}
			if r.errText != "" {
				out = append(out, m.st.errText.Render(fit("    ✗ "+r.errText, w)))
			}
		}
		return out
	}
	nameW, addrW, stateW, connW, inW, outW := 4, 6, 5, 4, 0, 0
	for _, r := range rows {
		nameW = max(nameW, ansi.StringWidth(r.name))
		addrW = max(addrW, ansi.StringWidth(r.addr))
		stateW = max(stateW, len(r.state))
		connW = max(connW, len(r.conn))
		inW = max(inW, ansi.StringWidth(r.in))
		outW = max(outW, ansi.StringWidth(r.out))
	}
	nameW = min(nameW, 16)
	base := 2 + nameW + 2 + addrW + 2 + stateW + 2 + connW
	oneRow := base+2+inW+2+outW <= w
	if base > w { // very long addresses: give the address what is left
		addrW = max(w-(2+nameW+2+2+stateW+2+connW), 10)
	}
	hdr := "  " + padRight("NAME", nameW) + "  " + padRight("FORWARD", addrW) + "  " + padRight("STATE", stateW) + "  " + padRight("CONN", connW)
	if oneRow {
		hdr += "  " + padRight("IN", inW) + "  OUT"
	}
	out = append(out, m.st.colHead.Render(fit(strings.TrimRight(hdr, " "), w)))
	for _, r := range rows {
		line := "  " + padRight(fit(m.st.bold.Render(r.name), nameW), nameW) + "  " +
			padRight(fit(r.addr, addrW), addrW) + "  " +
			m.st.forwardStyle[r.fs].Render(padRight(r.state, stateW)) + "  " + padRight(r.conn, connW)
		if oneRow {
			line += "  " + padRight(r.in, inW) + "  " + r.out
		}
		out = append(out, fit(strings.TrimRight(line, " "), w))
		if !oneRow && r.used {
			out = append(out, m.packLine(4+nameW, r.in, r.out))
		}
		if r.probe != "" {
			out = append(out, m.probeLine(r.probe, 4+nameW))
		}
		if r.errText != "" {
			out = append(out, m.st.errText.Render(fit(strings.Repeat(" ", 4+nameW)+"✗ "+r.errText, w)))
		}
	}
	return out
}

func (m Model) probeLine(probe string, indent int) string {
	st := m.st.okText
	if !strings.HasPrefix(probe, "probe ok") {
		st = m.st.warnText
	}
	return strings.Repeat(" ", indent) + st.Render(fit(probe, max(m.width-indent, 1)))
}

// packLine joins parts with two spaces after an indent, cut to the width.
func (m Model) packLine(indent int, parts ...string) string {
	return m.st.dim.Render(fit(strings.Repeat(" ", indent)+strings.Join(parts, "  "), m.width))
}

// indentWrap renders s indented, breaking after " → " first when it is too
// wide: forward ports must never be cut.
func (m Model) indentWrap(s string, indent int) []string {
	w := m.width - indent
	pad := strings.Repeat(" ", indent)
	if ansi.StringWidth(s) <= w {
		return []string{pad + s}
	}
	var out []string
	if i := strings.Index(s, " → "); i >= 0 {
		for _, part := range []string{s[:i+len(" →")], "  " + s[i+len(" → "):]} {
			for _, l := range wrapLines(part, max(w, 1)) {
				out = append(out, pad+l)
			}
		}
		return out
	}
	for _, l := range wrapLines(s, max(w, 1)) {
		out = append(out, pad+l)
	}
	return out
}

// renderLog is the selected profile's recent events, oldest first.
func (m Model) renderLog() []string {
	p, ok := m.selectedProfile()
	if !ok {
		return nil
	}
	w := m.width
	lines := []string{m.rule("log · " + p.Name)}
	if len(p.Events) == 0 {
		return append(lines, m.st.dim.Render(fit("  no events yet", w)))
	}
	for _, e := range p.Events {
		lvl := e.Level
		st := m.st.dim
		switch lvl {
		case "warn":
			st = m.st.warnText
		case "error":
			st = m.st.errText
		}
		line := " " + m.st.dim.Render(e.At.Format("15:04:05")) + " " + st.Render(padRight(lvl, 5)) + " " + oneLine(e.Text)
		lines = append(lines, fit(line, w))
	}
	return lines
}

// renderCopy is the ssh command alone, plain and unbordered, so it can be
// selected and copied; long commands are continued with " \".
func (m Model) renderCopy() string {
	p, ok := m.selectedProfile()
	w := m.width
	var lines []string
	if !ok {
		lines = append(lines, "no profile selected")
	} else {
		lines = append(lines, fit("# "+p.Name+": the equivalent OpenSSH command", w), "")
		if p.SSHCommand == "" {
			lines = append(lines, "(the engine gave no command for this profile)")
		} else {
			lines = append(lines, shellWrap(p.SSHCommand, w)...)
		}
	}
	lines = append(lines, "", fit("# c or esc: back", w))
	return strings.Join(lines, "\n")
}

// boxInner is the text width inside a modal box.
func (m Model) boxInner() int {
	if m.width >= 60 {
		return min(m.width, 78) - 4 // border and padding
	}
	return m.width
}

// box frames a modal: a rounded border when there is room, a title rule and
// plain lines on narrow screens (where a border would cut fingerprints).
func (m Model) box(title string, body []string, danger bool) []string {
	inner := m.boxInner()
	var content []string
	for _, l := range body {
		if ansi.StringWidth(l) > inner {
			content = append(content, wrapLines(l, inner)...)
		} else {
			content = append(content, l)
		}
	}
	titleSt, boxSt := m.st.boxTitle, m.st.box
	if danger {
		titleSt, boxSt = m.st.errTitle, m.st.errBox
	}
	if m.width < 60 {
		out := []string{titleSt.Render(fit(title, m.width)), m.st.rule.Render(strings.Repeat("─", m.width))}
		return append(out, content...)
	}
	all := append([]string{titleSt.Render(title), ""}, content...)
	rendered := boxSt.Width(inner + 4).Render(strings.Join(all, "\n"))
	return strings.Split(rendered, "\n")
}

// field is "label  value" with the label dimmed and padded.
func (m Model) field(label, value string) string {
	return m.st.label.Render(padRight(label, 12)) + value
}

// fieldLines puts label and value on one line when the value fits, else
// the value alone on the next line so that it is never cut.
func (m Model) fieldLines(label, value string) []string {
	inner := m.boxInner()
	if 12+ansi.StringWidth(value) <= inner {
		return []string{m.field(label, value)}
	}
	return append([]string{m.st.label.Render(label)}, wrapLines(value, inner)...)
}

func (m Model) renderPrompt(p *activePrompt) []string {
	var title string
	var body []string
	r := p.req
	switch r.kind {
	case promptHostKey:
		q := r.hostKey
		title = "Unknown host key"
		body = append(body, "kuguri has never seen this host's key. Check the fingerprint with the host's owner before trusting it.", "")
		body = append(body, m.fieldLines("profile", q.Profile)...)
		hop := fmt.Sprintf("%d", q.Hop)
		if q.HopName != "" {
			hop += " (" + q.HopName + ")"
		}
		body = append(body, m.fieldLines("hop", hop)...)
		body = append(body, m.fieldLines("address", q.Addr)...)
		body = append(body, m.fieldLines("key type", q.KeyType)...)
		body = append(body, m.fieldLines("fingerprint", m.st.bold.Render(q.Fingerprint))...)
		body = append(body, m.fieldLines("saved to", q.KnownHostsFile)...)
		body = append(body, "")
		for i, c := range hostKeyChoices() {
			if i == p.choice {
				body = append(body, m.st.choiceSel.Render("▸ "+c.label))
			} else {
				body = append(body, m.st.choice.Render("  "+c.label))
			}
		}
	case promptPassphrase:
		q := r.pass
		title = "Key passphrase"
		body = append(body, m.fieldLines("profile", q.Profile)...)
		body = append(body, m.fieldLines("hop", q.HopName)...)
		body = append(body, m.fieldLines("key", q.KeyFile)...)
		if q.Retry {
			body = append(body, m.st.errText.Render("That passphrase did not work; try again."))
		}
		body = append(body, "", p.inputs[0].View())
	case promptKI:
		q := r.ki
		title = "Server asks"
		if q.Name != "" {
			title += ": " + q.Name
		}
		body = append(body, m.fieldLines("profile", q.Profile)...)
		login := q.User
		if q.HopName != "" {
			login += "@" + q.HopName
		}
		body = append(body, m.fieldLines("login", login)...)
		if q.Instruction != "" {
			body = append(body, "", q.Instruction)
		}
		for i, question := range q.Questions {
			body = append(body, "", m.st.label.Render(strings.TrimSpace(question)))
			body = append(body, p.inputs[i].View())
		}
	}
	if n := len(m.prompts) - 1; n > 0 {
		body = append(body, "", m.st.dim.Render(fmt.Sprintf("(%d more waiting)", n)))
	}
	return m.box(title, body, false)
}

func (m Model) renderHostKeyBox(p api.Profile) []string {
	body := []string{
		m.field("profile", p.Name),
		m.field("state", m.stateCell(p)),
		"",
		p.LastError,
		"",
		"kuguri will not connect until known_hosts is fixed: inspect the line named above. If the host really was re-keyed, remove that line and reconnect to be asked again.",
	}
	return m.box("Host key verification failed", body, true)
}
