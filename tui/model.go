package tui

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/kuguri/kuguri/tunnel/api"
)

// SnapshotMsg carries an engine snapshot from the Watch subscription.
type SnapshotMsg struct{ Snapshot api.Snapshot }

// DisconnectedMsg says the Watch subscription ended (the channel closed, or
// Watch itself failed): the backend is gone.
type DisconnectedMsg struct{ Err error }

// watchMsg hands the subscription's channel to the model.
type watchMsg struct{ ch <-chan api.Snapshot }

// opDoneMsg reports a finished Backend call or Action.
type opDoneMsg struct {
	what string
	err  error
}

// tickMsg refreshes countdowns and uptimes.
type tickMsg time.Time

const (
	rttHistory    = 32                     // keepalive samples kept per profile
	rateWindow    = 500 * time.Millisecond // shortest interval a rate is computed over
	rateStaleMin  = 3 * time.Second        // a rate with no fresh sample this long reads 0
	opTimeout     = 30 * time.Second       // bound on one Backend call
	tickInterval  = time.Second
	narrowBelow   = 80 // columns: below this the narrow layout is used
	defaultWidth  = 80
	defaultHeight = 24
)

type fwdKey struct{ profile, forward string }

// fwdRate is one forward's last counter sample and the rates derived from
// successive samples.
type fwdRate struct {
	at        time.Time // when in/out were sampled
	in, out   uint64
	rateIn    float64 // bytes per second
	rateOut   float64
	interval  time.Duration // between the last two samples
	changedAt time.Time     // when the counters last moved
}

// activePrompt is a question being answered.
type activePrompt struct {
	req    *promptRequest
	inputs []textinput.Model // passphrase: one; keyboard-interactive: one per question
	focus  int
	choice int // host key: index into hostKeyChoices
}

// hostKeyChoice is one answer of the host-key prompt.
type hostKeyChoice struct {
	decision api.HostKeyDecision
	label    string
}

// hostKeyChoices are the host-key prompt's answers, in display order.
// Reject comes first so that a stray Enter never trusts a key.
func hostKeyChoices() []hostKeyChoice {
	return []hostKeyChoice{
		{api.Reject, "reject"},
		{api.AcceptOnce, "accept once"},
		{api.AcceptAndSave, "accept and save"},
	}
}

// Model is the TUI's tea.Model.
type Model struct {
	// Set at construction.
	ctx      context.Context
	backend  api.Backend
	prompter *Prompter
	attached bool
	banner   string
	actions  []Action
	log      *slog.Logger
	now      func() time.Time
	keys     keyMap
	pkeys    promptKeyMap
	st       styles

	width, height int
	help          help.Model

	watch        <-chan api.Snapshot
	snap         api.Snapshot
	haveSnap     bool
	disconnected bool
	discErr      error

	selected int
	selName  string

	showLog  bool
	showCopy bool

	rtt   map[string][]float64
	rates map[fwdKey]*fwdRate

	status    string
	statusErr bool

	prompts   []*activePrompt      // queued questions; prompts[0] is on screen
	dismissed map[string]time.Time // host-key error boxes dismissed: profile -> its Since
	quitting  bool
}

func newModel(ctx context.Context, opts Options) Model {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	h := help.New()
	h.SetWidth(defaultWidth)
	return Model{
		ctx:       ctx,
		backend:   opts.Backend,
		prompter:  opts.Prompter,
		attached:  opts.Attached,
		banner:    opts.Banner,
		actions:   opts.Actions,
		log:       lg.With("component", "tui"),
		now:       now,
		keys:      newKeyMap(opts.Attached, opts.Actions),
		pkeys:     newPromptKeyMap(),
		st:        defaultStyles(),
		help:      h,
		width:     defaultWidth,
		height:    defaultHeight,
		rtt:       map[string][]float64{},
		rates:     map[fwdKey]*fwdRate{},
		dismissed: map[string]time.Time{},
	}
}

// Init subscribes to snapshots and, with a Prompter, to questions.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.startWatch(), tick()}
	if m.prompter != nil {
		cmds = append(cmds, waitPrompt(m.ctx, m.prompter))
	}
	return tea.Batch(cmds...)
}

func (m Model) startWatch() tea.Cmd {
	ctx, b := m.ctx, m.backend
	return func() tea.Msg {
		if b == nil {
			return DisconnectedMsg{Err: fmt.Errorf("no backend")}
		}
		ch, err := b.Watch(ctx)
		if err != nil {
			return DisconnectedMsg{Err: err}
		}
		return watchMsg{ch: ch}
	}
}

// waitSnapshot is the re-arming command that reads the next snapshot.
func waitSnapshot(ch <-chan api.Snapshot) tea.Cmd {
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return DisconnectedMsg{}
		}
		return SnapshotMsg{Snapshot: s}
	}
}

func tick() tea.Cmd {
	return tea.Tick(tickInterval, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update handles one message. It never blocks: Backend calls run in commands.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 1), max(msg.Height, 1)
		m.help.SetWidth(m.width)
		m.resizeInputs()
		return m, nil
	case watchMsg:
		m.watch = msg.ch
		return m, waitSnapshot(msg.ch)
	case SnapshotMsg:
		m.applySnapshot(msg.Snapshot)
		if m.watch != nil {
			return m, waitSnapshot(m.watch)
		}
		return m, nil
	case DisconnectedMsg:
		m.disconnected, m.discErr, m.watch = true, msg.Err, nil
		return m, nil
	case tickMsg:
		return m, tick()
	case opDoneMsg:
		if msg.err != nil {
			m.status, m.statusErr = msg.what+": "+oneLine(msg.err.Error()), true
		} else {
			m.status, m.statusErr = msg.what+": done", false
		}
		return m, nil
	case promptMsg:
		return m.addPrompt(msg.req)
	case promptGoneMsg:
		return m.dropPrompt(msg.req)
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	}
	// Anything else (cursor blinks) belongs to the prompt's input.
	if p := m.activePrompt(); p != nil && len(p.inputs) > 0 {
		var cmd tea.Cmd
		p.inputs[p.focus], cmd = p.inputs[p.focus].Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) applySnapshot(s api.Snapshot) {
	m.snap, m.haveSnap = s, true
	now := m.now()
	for _, p := range s.Profiles {
		if p.State == api.Up && p.RTTMillis > 0 {
			h := m.rtt[p.Name]
			if len(h) == 0 || h[len(h)-1] != p.RTTMillis {
				h = append(h, p.RTTMillis)
				if len(h) > rttHistory {
					h = append([]float64(nil), h[len(h)-rttHistory:]...)
				}
				m.rtt[p.Name] = h
			}
		}
		for i, f := range p.Forwards {
			k := fwdKey{p.Name, forwardKey(f, i)}
			r := m.rates[k]
			if r == nil {
				m.rates[k] = &fwdRate{at: now, in: f.BytesIn, out: f.BytesOut, changedAt: now}
				continue
			}
			dt := now.Sub(r.at)
			if dt < rateWindow {
				continue // too close to the last sample to say anything
			}
			if f.BytesIn != r.in || f.BytesOut != r.out {
				r.changedAt = now
			}
			r.rateIn = perSecond(r.in, f.BytesIn, dt)
			r.rateOut = perSecond(r.out, f.BytesOut, dt)
			r.in, r.out, r.at, r.interval = f.BytesIn, f.BytesOut, now, dt
		}
	}
	// Keep the selection on the same profile by name.
	idx := -1
	for i, p := range s.Profiles {
		if p.Name == m.selName {
			idx = i
			break
		}
	}
	if idx < 0 {
		idx = min(m.selected, len(s.Profiles)-1)
	}
	m.selected = max(idx, 0)
	if len(s.Profiles) > 0 {
		m.selName = s.Profiles[m.selected].Name
	}
}

func forwardKey(f api.Forward, i int) string {
	if f.Name != "" {
		return f.Name
	}
	return fmt.Sprintf("#%d", i)
}

func perSecond(prev, cur uint64, dt time.Duration) float64 {
	if cur < prev || dt <= 0 { // counters reset (the profile restarted)
		return 0
	}
	return float64(cur-prev) / dt.Seconds()
}

// rate returns a forward's current rates; stale ones read 0.
func (m Model) rate(profileName string, f api.Forward, i int) (in, out float64, ok bool) {
	r := m.rates[fwdKey{profileName, forwardKey(f, i)}]
	if r == nil || r.interval == 0 {
		return 0, 0, false
	}
	stale := max(rateStaleMin, 2*r.interval)
	if m.now().Sub(r.changedAt) > stale {
		return 0, 0, true
	}
	return r.rateIn, r.rateOut, true
}

// selectedProfile returns the profile under the cursor.
func (m Model) selectedProfile() (api.Profile, bool) {
	if m.selected < 0 || m.selected >= len(m.snap.Profiles) {
		return api.Profile{}, false
	}
	return m.snap.Profiles[m.selected], true
}

// hostKeyFailure returns the first profile that failed on a host key and
// whose error box the user has not dismissed.
func (m Model) hostKeyFailure() (api.Profile, bool) {
	for _, p := range m.snap.Profiles {
		if p.State != api.Failed || p.ErrorKind != api.KindHostKey {
			continue
		}
		if since, ok := m.dismissed[p.Name]; ok && since.Equal(p.Since) {
			continue
		}
		return p, true
	}
	return api.Profile{}, false
}

func (m Model) activePrompt() *activePrompt {
	if len(m.prompts) == 0 {
		return nil
	}
	return m.prompts[0]
}

// op runs a Backend call (or an Action) in a command.
func (m Model) op(what string, fn func(ctx context.Context) error) tea.Cmd {
	ctx, lg := m.ctx, m.log
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		err := fn(ctx)
		if err != nil {
			lg.Warn("action failed", "action", what, "err", err)
		} else {
			lg.Info("action done", "action", what)
		}
		return opDoneMsg{what: what, err: err}
	}
}

func (m Model) handleKey(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if p := m.activePrompt(); p != nil {
		return m.promptKey(p, k)
	}
	if p, ok := m.hostKeyFailure(); ok {
		switch {
		case key.Matches(k, m.pkeys.Dismiss):
			m.dismissed[p.Name] = p.Since
		case key.Matches(k, m.keys.Quit):
			m.quitting = true
			return m, tea.Quit
		}
		return m, nil
	}
	if m.showCopy {
		switch {
		case key.Matches(k, m.keys.Copy), k.String() == "esc", k.String() == "enter":
			m.showCopy = false
		case key.Matches(k, m.keys.Quit):
			m.quitting = true
			return m, tea.Quit
		}
		return m, nil
	}
	b := m.backend
	switch {
	case key.Matches(k, m.keys.Quit):
		m.quitting = true
		return m, tea.Quit
	case key.Matches(k, m.keys.Up):
		m.moveSelection(-1)
	case key.Matches(k, m.keys.Down):
		m.moveSelection(+1)
	case key.Matches(k, m.keys.Toggle):
		p, ok := m.selectedProfile()
		if !ok || b == nil {
			return m, nil
		}
		if p.State == api.Stopped || p.State == api.Failed {
			m.status, m.statusErr = "starting "+p.Name+"…", false
			return m, m.op("start "+p.Name, func(ctx context.Context) error { return b.Start(ctx, p.Name) })
		}
		m.status, m.statusErr = "stopping "+p.Name+"…", false
		return m, m.op("stop "+p.Name, func(ctx context.Context) error { return b.Stop(ctx, p.Name) })
	case key.Matches(k, m.keys.Reconnect):
		p, ok := m.selectedProfile()
		if !ok || b == nil {
			return m, nil
		}
		m.status, m.statusErr = "reconnecting "+p.Name+"…", false
		return m, m.op("reconnect "+p.Name, func(ctx context.Context) error { return b.Reconnect(ctx, p.Name) })
	case key.Matches(k, m.keys.StartAll):
		if b == nil {
			return m, nil
		}
		m.status, m.statusErr = "starting all…", false
		return m, m.op("start all", func(ctx context.Context) error { return b.Start(ctx) })
	case key.Matches(k, m.keys.StopAll):
		if b == nil {
			return m, nil
		}
		m.status, m.statusErr = "stopping all…", false
		return m, m.op("stop all", func(ctx context.Context) error { return b.Stop(ctx) })
	case key.Matches(k, m.keys.Log):
		m.showLog = !m.showLog
	case key.Matches(k, m.keys.Copy):
		m.showCopy = true
	case key.Matches(k, m.keys.Help):
		m.help.ShowAll = !m.help.ShowAll
	default:
		for i, a := range m.actions {
			if a.Run != nil && key.Matches(k, m.keys.Actions[i]) {
				m.status, m.statusErr = a.Help+"…", false
				return m, m.op(a.Help, a.Run)
			}
		}
	}
	return m, nil
}

func (m *Model) moveSelection(d int) {
	n := len(m.snap.Profiles)
	if n == 0 {
		return
	}
	m.selected = max(0, min(n-1, m.selected+d))
	m.selName = m.snap.Profiles[m.selected].Name
}

// addPrompt queues a question and re-arms the listener.
func (m Model) addPrompt(req *promptRequest) (tea.Model, tea.Cmd) {
	cmds := []tea.Cmd{watchPromptCtx(req)}
	if m.prompter != nil {
		cmds = append(cmds, waitPrompt(m.ctx, m.prompter))
	}
	p := &activePrompt{req: req}
	switch req.kind {
	case promptPassphrase:
		ti := m.newInput("passphrase", true)
		p.inputs = append(p.inputs, ti)
	case promptKI:
		for i := range req.ki.Questions {
			echo := i < len(req.ki.Echo) && req.ki.Echo[i]
			p.inputs = append(p.inputs, m.newInput("", !echo))
		}
	}
	m.prompts = append(m.prompts, p)
	m.log.Info("question shown", "profile", promptProfile(req), "kind", promptKindName(req.kind))
	if len(m.prompts) == 1 {
		cmds = append(cmds, m.focusPrompt(p))
	}
	return m, tea.Batch(cmds...)
}

// dropPrompt removes a question whose ctx ended.
func (m Model) dropPrompt(req *promptRequest) (tea.Model, tea.Cmd) {
	for i, p := range m.prompts {
		if p.req != req {
			continue
		}
		m.prompts = append(m.prompts[:i:i], m.prompts[i+1:]...)
		m.status, m.statusErr = "question withdrawn: "+promptProfile(req), false
		if i == 0 && len(m.prompts) > 0 {
			return m, m.focusPrompt(m.prompts[0])
		}
		return m, nil
	}
	return m, nil
}

// finishPrompt answers the question on screen and shows the next one.
func (m Model) finishPrompt(rep promptReply) (tea.Model, tea.Cmd) {
	p := m.prompts[0]
	p.req.answer(rep)
	for i := range p.inputs { // drop our copy of what was typed
		p.inputs[i].Reset()
	}
	m.log.Info("question answered", "profile", promptProfile(p.req), "kind", promptKindName(p.req.kind))
	m.prompts = append([]*activePrompt(nil), m.prompts[1:]...)
	if len(m.prompts) > 0 {
		return m, m.focusPrompt(m.prompts[0])
	}
	return m, nil
}

func (m Model) newInput(placeholder string, masked bool) textinput.Model {
	ti := textinput.New()
	ti.Prompt = "› "
	ti.Placeholder = placeholder
	if masked {
		ti.EchoMode = textinput.EchoPassword
		ti.EchoCharacter = '•'
	}
	ti.SetWidth(m.inputWidth())
	return ti
}

func (m Model) inputWidth() int { return max(m.boxInner()-3, 4) }

func (m *Model) resizeInputs() {
	for _, p := range m.prompts {
		for i := range p.inputs {
			p.inputs[i].SetWidth(m.inputWidth())
		}
	}
}

func (m Model) focusPrompt(p *activePrompt) tea.Cmd {
	if len(p.inputs) == 0 {
		return nil
	}
	for i := range p.inputs {
		p.inputs[i].Blur()
	}
	return p.inputs[p.focus].Focus()
}

func (m Model) promptKey(p *activePrompt, k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if k.String() == "ctrl+c" {
		// Quitting answers nothing; Run closes the Prompter, which fails the
		// engine's waiting call with api.ErrNoPrompter.
		m.quitting = true
		return m, tea.Quit
	}
	switch p.req.kind {
	case promptHostKey:
		switch {
		case key.Matches(k, m.pkeys.Once):
			return m.finishPrompt(promptReply{decision: api.AcceptOnce})
		case key.Matches(k, m.pkeys.Save):
			return m.finishPrompt(promptReply{decision: api.AcceptAndSave})
		case key.Matches(k, m.pkeys.Reject):
			return m.finishPrompt(promptReply{decision: api.Reject})
		case key.Matches(k, m.pkeys.Submit):
			return m.finishPrompt(promptReply{decision: hostKeyChoices()[p.choice].decision})
		case key.Matches(k, m.pkeys.Next), k.String() == "right", k.String() == "j":
			p.choice = (p.choice + 1) % len(hostKeyChoices())
		case key.Matches(k, m.pkeys.Prev), k.String() == "left", k.String() == "k":
			p.choice = (p.choice + len(hostKeyChoices()) - 1) % len(hostKeyChoices())
		}
		return m, nil
	}
	switch {
	case key.Matches(k, m.pkeys.Cancel):
		return m.finishPrompt(promptReply{err: cancelledErr()})
	case key.Matches(k, m.pkeys.Submit):
		if p.focus < len(p.inputs)-1 {
			p.focus++
			return m, m.focusPrompt(p)
		}
		if p.req.kind == promptPassphrase {
			return m.finishPrompt(promptReply{secret: []byte(p.inputs[0].Value())})
		}
		answers := make([]string, len(p.inputs))
		for i := range p.inputs {
			answers[i] = p.inputs[i].Value()
		}
		return m.finishPrompt(promptReply{answers: answers})
	case k.String() == "tab" || k.String() == "down":
		if len(p.inputs) > 1 {
			p.focus = (p.focus + 1) % len(p.inputs)
			return m, m.focusPrompt(p)
		}
		return m, nil
	case k.String() == "shift+tab" || k.String() == "up":
		if len(p.inputs) > 1 {
			p.focus = (p.focus + len(p.inputs) - 1) % len(p.inputs)
			return m, m.focusPrompt(p)
		}
		return m, nil
	}
	var cmd tea.Cmd
	p.inputs[p.focus], cmd = p.inputs[p.focus].Update(k)
	return m, cmd
}

func promptProfile(r *promptRequest) string {
	switch r.kind {
	case promptHostKey:
		return r.hostKey.Profile
	case promptPassphrase:
		return r.pass.Profile
	}
	return r.ki.Profile
}

func promptKindName(k promptKind) string {
	switch k {
	case promptHostKey:
		return "host key"
	case promptPassphrase:
		return "passphrase"
	}
	return "keyboard-interactive"
}

// oneLine flattens a multi-line error for the status line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
