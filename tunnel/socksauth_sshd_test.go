package tunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
)

// requireCurl skips without curl, and fails under CI=true.
func requireCurl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("curl not found (CI=true, so this is a failure): %v", err)
		}
		t.Skipf("curl not found: %v", err)
	}
	return p
}

// curl, as a SOCKS5 client with username/password (and the target name
// resolved by the SSH server: --socks5-hostname), fetches a page from the
// sshd's loopback through a dynamic forward whose password is in a file.
func TestSSHDSOCKSAuthCurl(t *testing.T) {
	curl := requireCurl(t)
	e := newSSHDEnv(t)
	// DEBUG1: sshd logs the direct-tcpip target it was asked for.
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}, LogLevel: "DEBUG1"})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	const page = "hello from the server's loopback"
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s: %s", page, r.URL.Path)
	}))
	t.Cleanup(web.Close)
	_, webPort, _ := splitHostPort(web.Listener.Addr().String())

	pwFile := filepath.Join(e.dir, "socks-password")
	if err := os.WriteFile(pwFile, []byte(socksTestPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := profile.Forward{Name: "socks", Type: profile.Dynamic, Local: "127.0.0.1:0", SOCKSUser: socksTestUser, SOCKSPasswordFile: pwFile}
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{f}})
	p := startReady(t, m, "vps")
	proxy := p.Forwards[0].Listen

	run := func(user, pass string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, curl, "-q", "-sS", "--max-time", "20",
			"--socks5-hostname", user+":"+pass+"@"+proxy,
			fmt.Sprintf("http://localhost:%d/through-kuguri", webPort))
		// No proxy variables or ~/.curlrc from the environment.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	out, err := run(socksTestUser, socksTestPass)
	if err != nil {
		t.Fatalf("curl with the right password: %v\n%s", err, out)
	}
	if want := page + ": /through-kuguri"; out != want {
		t.Fatalf("curl got %q, want %q", out, want)
	}
	// sshd opened the channel to the name it resolved itself.
	srv.WaitLog(t, sshdtest.DirectTCPIPLogLine(fmt.Sprintf("localhost:%d", webPort)), 5*time.Second)

	out, err = run(socksTestUser, "not-the-password")
	if err == nil || strings.Contains(out, page) {
		t.Fatalf("curl with a wrong password: err %v, output %q", err, out)
	}
	waitFor(t, 5*time.Second, "the failed login on LastError", func() bool {
		return strings.Contains(profState(m, "vps").Forwards[0].LastError, ": bad username or password")
	})
	snap, _ := m.Snapshot(context.Background())
	js, _ := json.Marshal(snap)
	if bytes.Contains(js, []byte(socksTestPass)) || bytes.Contains(js, []byte("not-the-password")) {
		t.Fatalf("snapshot shows a password: %s", js)
	}
}
