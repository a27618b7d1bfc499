package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout is the hook timeout used when New is given zero.
const DefaultTimeout = 30 * time.Second

// MaxOutput is how many bytes of a hook's combined output are logged.
const MaxOutput = 4 << 10

// waitDelay bounds how long a finished hook's output pipes are waited for
// when a background process it started still holds them.
const waitDelay = 2 * time.Second

// Event describes a profile's state change. The strings are the stable text
// forms of the engine's states (api.State.String()).
type Event struct {
	Profile   string
	State     string
	Prev      string
	LastError string
}

// Runner runs hooks in goroutines it owns. Use New; call Close when done.
type Runner struct {
	// Set at construction, read-only afterwards.
	log     *slog.Logger
	timeout time.Duration
	environ func() []string    // os.Environ; replaced in tests
	base    context.Context    // parent of every hook's context
	kill    context.CancelFunc // cancels base: kills every running hook
	wg      sync.WaitGroup     // one per profile goroutine

	mu     sync.Mutex
	busy   map[string]*job // guarded by mu: profiles with a hook running -> waiting job (nil: none)
	closed bool            // guarded by mu: Close was called; Fire drops events
}

type job struct {
	command string
	ev      Event
}

// New returns a Runner logging to logger (nil discards) that kills a hook
// after timeout (zero or less means DefaultTimeout).
func New(logger *slog.Logger, timeout time.Duration) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base, kill := context.WithCancel(context.Background())
	return &Runner{
		log:     logger,
		timeout: timeout,
		environ: os.Environ,
		base:    base,
		kill:    kill,
		busy:    map[string]*job{},
	}
}

// Fire runs command for ev in the background and returns at once. An empty
// command does nothing. If a hook for ev.Profile is running, the event waits
// for it, replacing any event already waiting (latest wins). After Close,
// Fire drops the event.
//
// ctx is not used to cancel the hook: an on_down hook fired while the engine
// shuts down must still run. Close bounds how long hooks may outlive it.
func (r *Runner) Fire(ctx context.Context, command string, ev Event) {
	if strings.TrimSpace(command) == "" {
		return
	}
	j := &job{command: command, ev: ev}
	log := r.log.With("profile", ev.Profile, "state", ev.State)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		log.WarnContext(ctx, "hook not run: shutting down")
		return
	}
	if waiting, running := r.busy[ev.Profile]; running {
		if waiting != nil {
			log.DebugContext(ctx, "hook event replaced by a newer one", "dropped_state", waiting.ev.State)
		}
		r.busy[ev.Profile] = j
		return
	}
	r.busy[ev.Profile] = nil
	r.wg.Add(1)
	go r.serve(ev.Profile, j)
}

// serve runs j and then whatever waits for the same profile, until nothing
// does.
func (r *Runner) serve(profile string, j *job) {
	defer r.wg.Done()
	for {
		if r.base.Err() == nil {
			r.run(j)
		} else {
			r.log.Warn("hook not run: shutting down", "profile", profile, "state", j.ev.State)
		}
		r.mu.Lock()
		next := r.busy[profile]
		if next == nil {
			delete(r.busy, profile)
			r.mu.Unlock()
			return
		}
		r.busy[profile] = nil
		r.mu.Unlock()
		j = next
	}
}

// run executes one hook and logs its outcome. The command text is not
// logged: it comes from the config and may embed a credential.
func (r *Runner) run(j *job) {
	log := r.log.With("profile", j.ev.Profile, "state", j.ev.State, "prev_state", j.ev.Prev)
	sh, err := exec.LookPath("sh")
	if err != nil {
		log.Warn("hook not run: no sh on PATH", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.base, r.timeout)
	defer cancel()

	out := &capBuffer{max: MaxOutput}
	cmd := exec.CommandContext(ctx, sh, "-c", j.command)
	cmd.Env = hookEnv(r.environ(), j.ev)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd)

	start := time.Now()
	err = cmd.Run()
	attrs := []any{"duration", time.Since(start).Round(time.Millisecond)}
	if o := out.String(); o != "" {
		attrs = append(attrs, "output", o)
	}
	var ee *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		log.Warn(fmt.Sprintf("hook timed out after %s and was killed", r.timeout), attrs...)
	case r.base.Err() != nil:
		log.Warn("hook killed: shutting down", attrs...)
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		// ErrWaitDelay: the hook exited 0 but left a background process
		// holding its output; that is the user's choice.
		log.Info("hook ran", attrs...)
	case errors.As(err, &ee):
		log.Warn("hook failed", append(attrs, "exit_status", ee.ExitCode(), "err", err)...)
	default:
		log.Warn("hook could not run", append(attrs, "err", err)...)
	}
}

// closeGrace is added to the timeout in Close, so that a hook started just
// before Close reaches its own timeout (and is logged as such) first.
const closeGrace = time.Second

// Close stops accepting events and waits for running and waiting hooks, at
// most the Runner's timeout (plus a second's grace) in all; then it kills
// what is left and waits for its goroutines to end. It is safe to call more
// than once.
func (r *Runner) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout+closeGrace)
	defer cancel()
	_ = r.Shutdown(ctx)
}

// Shutdown is Close bounded by ctx instead of the timeout: when ctx ends
// first, remaining hooks are killed and ctx's error is returned once every
// goroutine has ended.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()

	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("hooks: killed on shutdown: %w", ctx.Err())
		r.kill()
		<-done
	}
	r.kill() // release the base context
	return err
}

// hookEnv returns environ filtered of secrets and inherited KUGURI_*
// variables, with the event's variables appended.
func hookEnv(environ []string, ev Event) []string {
	env := make([]string, 0, len(environ)+4)
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && name != "" && dropVar(name) {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"KUGURI_PROFILE="+ev.Profile,
		"KUGURI_STATE="+ev.State,
		"KUGURI_PREV_STATE="+ev.Prev,
		"KUGURI_ERROR="+ev.LastError,
	)
}

// dropVar reports whether a variable must not reach a hook (see the package
// documentation for the rule).
func dropVar(name string) bool {
	u := strings.ToUpper(name)
	if strings.HasPrefix(u, "KUGURI_") {
		return true
	}
	for _, w := range [...]string{"PASS", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE", "APIKEY", "API_KEY", "COOKIE"} {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// capBuffer keeps the first max bytes written to it and counts the rest.
type capBuffer struct {
	max int

	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if room >= len(p) {
		b.buf.Write(p)
	} else {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.ToValidUTF8(strings.TrimRight(b.buf.String(), "\n"), "?")
	if b.dropped > 0 {
		s += fmt.Sprintf("\n... (%d more bytes not shown)", b.dropped)
	}
	return s
}
