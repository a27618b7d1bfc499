package securitytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

const (
	passphrase = "pp-SECRET-correct-horse"
	wrongPass  = "pp-SECRET-wrong-battery"
	password   = "pw-SECRET-hunter2"
	otp        = "otp-SECRET-424242"
)

// scripted answers every question from a script, counting the questions.
type scripted struct {
	mu          sync.Mutex
	passphrases []string
	answers     []string
	asked       []string
}

func (s *scripted) HostKey(context.Context, api.HostKeyQuestion) (api.HostKeyDecision, error) {
	return api.Reject, api.ErrNoPrompter
}

func (s *scripted) Passphrase(_ context.Context, q api.PassphraseQuestion) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, "passphrase "+q.KeyFile)
	if len(s.passphrases) == 0 {
		return nil, api.ErrNoPrompter
	}
	p := s.passphrases[0]
	s.passphrases = s.passphrases[1:]
	return []byte(p), nil
}

func (s *scripted) KeyboardInteractive(_ context.Context, q api.KeyboardInteractiveQuestion) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, "ki "+strings.Join(q.Questions, "|"))
	out := make([]string, len(q.Questions))
	for i := range out {
		if len(s.answers) == 0 {
			return nil, api.ErrNoPrompter
		}
		out[i] = s.answers[0]
		s.answers = s.answers[1:]
	}
	return out, nil
}

// world is a profile config, a debug-level log capturing everything the
// engine says, and the secrets that must never appear in it.
type world struct {
	t      *testing.T
	dir    string
	logBuf *sshdtest.Buffer
	logger *slog.Logger
}

func newWorld(t *testing.T) *world {
	buf := &sshdtest.Buffer{}
	return &world{t: t, dir: t.TempDir(), logBuf: buf,
		logger: slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func (w *world) config(port int, user, keyFile, knownHosts string) *profile.Config {
	w.t.Helper()
	sshConfig := filepath.Join(w.dir, "ssh_config")
	os.WriteFile(sshConfig, nil, 0o600)
	file := filepath.Join(w.dir, "config.yaml")
	keys := "[]"
	if keyFile != "" {
		keys = "[" + keyFile + "]"
	}
	yaml := fmt.Sprintf(`defaults:
  connect_timeout: 5s
  reconnect: {initial: 100ms, max: 500ms}
profiles:
  vps:
    host: 127.0.0.1
    port: %d
    user: %s
    identity_files: %s
    known_hosts: %s
    forwards:
      - {name: db, local: 0, remote: "127.0.0.1:9"}
`, port, user, keys, knownHosts)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		w.t.Fatal(err)
	}
	cfg, err := profile.Load(profile.LoadOptions{File: file, SSHConfig: sshConfig, Home: w.dir,
		Getenv: func(string) string { return "" }})
	if err != nil {
		w.t.Fatal(err)
	}
	return cfg
}

// run starts the profile, waits for it to be ready or to fail, and returns
// everything the engine showed: logs, the snapshot as JSON, the error.
func (w *world) run(cfg *profile.Config, pr api.Prompter) (shown string, readyErr error) {
	w.t.Helper()
	m := runManager(w.t, cfg, tunnel.Options{Logger: w.logger, Prompter: pr, Version: "test"})
	_, readyErr = m.ready()
	snap, err := m.Snapshot(m.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	js, _ := json.Marshal(snap)
	errText := ""
	if readyErr != nil {
		errText = readyErr.Error() + fmt.Sprintf(" %+v %#v", readyErr, readyErr)
		for e := readyErr; e != nil; e = errors.Unwrap(e) {
			errText += " " + e.Error()
		}
	}
	return w.logBuf.String() + "\n" + string(js) + "\n" + errText, readyErr
}

func assertNoSecrets(t *testing.T, shown string, secrets ...string) {
	t.Helper()
	if len(shown) < 100 {
		t.Fatalf("captured only %d bytes: the check would be vacuous", len(shown))
	}
	for _, s := range secrets {
		if strings.Contains(shown, s) {
			i := strings.Index(shown, s)
			lo := max(0, i-200)
			t.Errorf("secret %q leaked: ...%s...", s, shown[lo:min(len(shown), i+len(s)+100)])
		}
	}
	for _, marker := range []string{"PRIVATE KEY", "b3BlbnNzaC1rZXktdjE"} { // PEM header; base64 of "openssh-key-v1"
		if strings.Contains(shown, marker) {
			t.Errorf("private key material leaked (%q)", marker)
		}
	}
}

// TestPassphraseNeverShown: an encrypted key against a real sshd, a wrong
// passphrase then the right one: the engine logs at debug level, publishes a
// snapshot and fails or succeeds, and neither passphrase appears anywhere.
func TestPassphraseNeverShown(t *testing.T) {
	sshdtest.Require(t)
	w := newWorld(t)
	signer, keyFile := sshdtest.NewKey(t, w.dir, "id_ed25519", passphrase)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	kh := filepath.Join(w.dir, "known_hosts")
	sshdtest.WriteKnownHosts(t, kh, srv.KnownHostsLine())
	cfg := w.config(srv.Port, srv.User, keyFile, kh)

	pr := &scripted{passphrases: []string{wrongPass, passphrase}}
	shown, err := w.run(cfg, pr)
	if err != nil {
		t.Fatalf("connect with the passphrase: %v\nasked: %q", err, pr.asked)
	}
	if len(pr.asked) != 2 {
		t.Errorf("asked %q, want a retry after the wrong passphrase", pr.asked)
	}
	assertNoSecrets(t, shown, passphrase, wrongPass)

	// Wrong every time: the failure message names the key, not the secret.
	w2 := newWorld(t)
	w2.dir = w.dir
	pr2 := &scripted{passphrases: []string{wrongPass, wrongPass, wrongPass, wrongPass}}
	shown, err = w2.run(cfg, pr2)
	if !errors.Is(err, api.ErrAuth) {
		t.Fatalf("three wrong passphrases: %v; want ErrAuth", err)
	}
	assertNoSecrets(t, shown, wrongPass)
}

// TestPasswordNeverShown: password and keyboard-interactive answers given
// through the Prompter never appear in logs, snapshots or errors, whether
// accepted or refused.
func TestPasswordNeverShown(t *testing.T) {
	w := newWorld(t)
	srv, err := sshserver.New(sshserver.Config{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	kh := filepath.Join(w.dir, "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, srv.HostKey())+"\n"), 0o600)
	cfg := w.config(ln.Addr().(*net.TCPAddr).Port, "me", "", kh)

	pr := &scripted{answers: []string{password, password, password}}
	shown, err := w.run(cfg, pr)
	if err != nil {
		t.Fatalf("password login: %v (asked %q)", err, pr.asked)
	}
	if len(pr.asked) == 0 {
		t.Fatal("the prompter was never asked: the password path was not exercised")
	}
	assertNoSecrets(t, shown, password)

	w2 := newWorld(t)
	pr2 := &scripted{answers: []string{otp, otp, otp, otp, otp, otp}}
	shown, err = w2.run(cfg, pr2)
	if !errors.Is(err, api.ErrAuth) || len(pr2.asked) == 0 {
		t.Fatalf("wrong answers: %v (asked %q); want ErrAuth after asking", err, pr2.asked)
	}
	assertNoSecrets(t, shown, otp)
}

// TestTypedSecretsAndReconnects: a password typed once is kept in memory and
// replayed on reconnect (nobody is asked again); a keyboard-interactive
// answer (a one-time code) is never replayed, and the profile's note says
// that each reconnect needs someone to answer.
func TestTypedSecretsAndReconnects(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       sshserver.Config
		answers   []string
		wantAsked int // after the reconnect
		wantNote  string
	}{
		{"password", sshserver.Config{Password: password}, []string{password, password}, 1, ""},
		{"one-time code", sshserver.Config{OneTimeCode: func() string { return otp }}, []string{otp, otp}, 2, "each reconnect needs someone to answer again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			srv, err := sshserver.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			kh := filepath.Join(w.dir, "known_hosts")
			os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, srv.HostKey())+"\n"), 0o600)
			cfg := w.config(ln.Addr().(*net.TCPAddr).Port, "me", "", kh)
			pr := &scripted{answers: tc.answers}
			m := runManager(t, cfg, tunnel.Options{Logger: w.logger, Prompter: pr})
			ctx := m.ctx
			p, err := m.ready()
			if err != nil {
				t.Fatalf("first login: %v", err)
			}
			if !strings.Contains(p.Note, tc.wantNote) {
				t.Errorf("note %q, want it to contain %q", p.Note, tc.wantNote)
			}
			srv.DropAll()
			deadline := time.Now().Add(20 * time.Second)
			for {
				snap, _ := m.Snapshot(ctx)
				if q, _ := snap.Find("vps"); q.Reconnects >= 1 && q.State == api.Up {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no reconnect; asked %q", pr.asked)
				}
				time.Sleep(20 * time.Millisecond)
			}
			pr.mu.Lock()
			asked := len(pr.asked)
			pr.mu.Unlock()
			if asked != tc.wantAsked {
				t.Errorf("asked %d times (%q), want %d", asked, pr.asked, tc.wantAsked)
			}
			snap, _ := m.Snapshot(ctx)
			js, _ := json.Marshal(snap)
			assertNoSecrets(t, w.logBuf.String()+string(js), password, otp)
		})
	}
}
