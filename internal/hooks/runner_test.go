//go:build unix

package hooks

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// record is one captured log line.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler keeping every record in memory.
type recorder struct {
	mu    *sync.Mutex
	recs  *[]record
	attrs []slog.Attr
}

func newRecorder() *recorder { return &recorder{mu: &sync.Mutex{}, recs: &[]record{}} }

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) WithGroup(string) slog.Handler            { return h }
func (h *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{mu: h.mu, recs: h.recs, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.recs = append(*h.recs, record{r.Level, r.Message, m})
	return nil
}

func (h *recorder) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.recs)
}

// find returns the records whose message contains msg.
func (h *recorder) find(msg string) []record {
	var out []record
	for _, r := range h.all() {
		if strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

// within fails the test if f does not return within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// q quotes s for sh.
func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func TestHookSeesFilteredEnv(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env.txt")
	rec := newRecorder()
	r := New(slog.New(rec), 0)
	r.environ = func() []string {
		return []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + dir,
			"SSH_AUTH_SOCK=/run/agent.sock",
			"SSH_ASKPASS=/usr/bin/ask",
			"DB_PASSWORD=hunter2",
			"API_TOKEN=tok",
			"KUGURI_STATE=forged",
		}
	}
	r.Fire(context.Background(), "env > "+q(out), Event{Profile: "vps", State: "up", Prev: "connecting", LastError: "it's \"quoted\"; $HOME"})
	within(t, 30*time.Second, "Close", r.Close)

	env := readLines(t, out)
	for _, want := range []string{
		"KUGURI_PROFILE=vps",
		"KUGURI_STATE=up",
		"KUGURI_PREV_STATE=connecting",
		`KUGURI_ERROR=it's "quoted"; $HOME`,
		"SSH_AUTH_SOCK=/run/agent.sock",
		"HOME=" + dir,
	} {
		if !slices.Contains(env, want) {
			t.Errorf("hook env lacks %q:\n%s", want, strings.Join(env, "\n"))
		}
	}
	for _, kv := range env {
		for _, bad := range []string{"SSH_ASKPASS=", "DB_PASSWORD=", "API_TOKEN=", "KUGURI_STATE=forged"} {
			if strings.HasPrefix(kv, bad) {
				t.Errorf("hook env has %q", kv)
			}
		}
	}
	if ran := rec.find("hook ran"); len(ran) != 1 || ran[0].attrs["profile"] != "vps" || ran[0].attrs["state"] != "up" {
		t.Errorf("log records %+v, want one 'hook ran' for vps/up", rec.all())
	}
}

// sh is looked up on PATH, not taken from /bin/sh.
func TestShFromPath(t *testing.T) {
	real, err := lookSh()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "fake-sh-used")
	fake := fmt.Sprintf("#!%s\n: > %s\nexec %s \"$@\"\n", real, q(marker), real)
	if err := os.WriteFile(filepath.Join(dir, "sh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	r := New(nil, 0)
	out := filepath.Join(dir, "out")
	r.Fire(context.Background(), "echo hi > "+q(out), Event{Profile: "p", State: "up"})
	r.Close()
	if !exists(marker) {
		t.Fatal("the sh found first on PATH was not used")
	}
	if got := readLines(t, out); !slices.Equal(got, []string{"hi"}) {
		t.Fatalf("hook output %q", got)
	}
}

func lookSh() (string, error) {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(d, "sh")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no sh on PATH")
}

// pidGone reports whether pid has exited (absent, or a zombie nobody reaped).
func pidGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestTimeoutKillsHookAndItsChildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to observe the killed processes")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	rec := newRecorder()
	r := New(slog.New(rec), 300*time.Millisecond)
	// The plain case from the brief, and one that leaves a child behind.
	r.Fire(context.Background(), "sleep 60", Event{Profile: "a", State: "up"})
	r.Fire(context.Background(), "sleep 60 & echo $! > "+q(pidFile)+"; wait", Event{Profile: "b", State: "up"})
	within(t, 30*time.Second, "Close", r.Close)

	timedOut := rec.find("timed out after 300ms")
	if len(timedOut) != 2 {
		t.Fatalf("got %d 'timed out' records, want 2: %+v", len(timedOut), rec.all())
	}
	for _, r := range timedOut {
		if r.level != slog.LevelWarn {
			t.Errorf("timeout logged at %v, want WARN", r.level)
		}
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readLines(t, pidFile)[0]))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("the hook's child sleep (pid %d) to die", pid), func() bool { return pidGone(pid) })
}

func TestFireNeverBlocksLatestWins(t *testing.T) {
	defer goleak.VerifyNone(t) // after Close, nothing of the Runner is left
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	log := filepath.Join(dir, "vps.log")
	other := filepath.Join(dir, "other.log")
	r := New(nil, time.Minute)
	// Records its event, then holds the profile busy until released.
	hook := `echo "$KUGURI_STATE" >> ` + q(log) + `; while [ ! -e ` + q(release) + ` ]; do sleep 0.01; done`
	r.Fire(context.Background(), hook, Event{Profile: "vps", State: "s0"})
	waitFor(t, "the first hook to start", func() bool { return exists(log) })

	within(t, 10*time.Second, "100 Fire calls", func() {
		for i := 1; i <= 100; i++ {
			r.Fire(context.Background(), hook, Event{Profile: "vps", State: fmt.Sprintf("s%d", i)})
		}
	})
	// Another profile is not held up by the busy one.
	r.Fire(context.Background(), "echo $KUGURI_STATE > "+q(other), Event{Profile: "other", State: "up"})
	waitFor(t, "the other profile's hook", func() bool { return exists(other) })

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	within(t, 30*time.Second, "Close", r.Close)
	if got := readLines(t, log); !slices.Equal(got, []string{"s0", "s100"}) {
		t.Fatalf("hooks ran for %q, want [s0 s100] (the busy one, then only the latest)", got)
	}
	if got := readLines(t, other); !slices.Equal(got, []string{"up"}) {
		t.Fatalf("other hook wrote %q", got)
	}
}

func TestOutputAndFailureLogged(t *testing.T) {
	rec := newRecorder()
	r := New(slog.New(rec), 0)
	r.Fire(context.Background(), "printf '%.0sx' $(seq 1 10000); echo; echo oops >&2; exit 3", Event{Profile: "p", State: "down"})
	r.Close()
	failed := rec.find("hook failed")
	if len(failed) != 1 {
		t.Fatalf("records %+v, want one 'hook failed'", rec.all())
	}
	a := failed[0].attrs
	if a["exit_status"] != "3" {
		t.Errorf("exit_status = %q, want 3", a["exit_status"])
	}
	out := a["output"]
	if !strings.HasPrefix(out, strings.Repeat("x", 100)) || !strings.Contains(out, "more bytes not shown") || len(out) > MaxOutput+100 {
		t.Errorf("output not captured and truncated: %d bytes, ends %q", len(out), out[max(0, len(out)-60):])
	}
}

func TestFireAfterCloseAndEmptyCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	rec := newRecorder()
	r := New(slog.New(rec), 0)
	r.Fire(context.Background(), "  ", Event{Profile: "p", State: "up"}) // nothing to run
	r.Close()
	r.Fire(context.Background(), "touch "+q(out), Event{Profile: "p", State: "up"})
	r.Close() // twice is fine
	if exists(out) {
		t.Fatal("a hook ran after Close")
	}
	if len(rec.find("hook ran")) != 0 || len(rec.find("shutting down")) != 1 {
		t.Fatalf("records %+v", rec.all())
	}
}

// Shutdown bounded by a short context kills a hook that would outlive it,
// drops the event waiting behind it, and leaves no goroutine.
func TestShutdownKillsWhenContextEnds(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	second := filepath.Join(dir, "second")
	rec := newRecorder()
	r := New(slog.New(rec), time.Minute)
	r.Fire(context.Background(), "touch "+q(started)+"; sleep 60", Event{Profile: "p", State: "up"})
	r.Fire(context.Background(), "touch "+q(second), Event{Profile: "p", State: "down"})
	waitFor(t, "the hook to start", func() bool { return exists(started) })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var err error
	within(t, 30*time.Second, "Shutdown", func() { err = r.Shutdown(ctx) })
	if err == nil {
		t.Fatal("Shutdown returned nil although it had to kill a hook")
	}
	if len(rec.find("hook killed: shutting down")) != 1 {
		t.Fatalf("records %+v", rec.all())
	}
	if exists(second) {
		t.Fatal("the waiting hook ran after the runner was killed")
	}
}
