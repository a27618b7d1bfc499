package control

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// peerHelperEnv, when set to a socket path, makes the test binary act as a
// client (see TestPeerOtherUIDRefused): it dials, says hello and prints the
// outcome.
const peerHelperEnv = "KUGURI_CONTROL_PEER_HELPER"

func peerHelper(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		fmt.Printf("DIAL-ERROR uid=%d: %v\n", os.Getuid(), err)
		return 0
	}
	defer c.Close()
	if _, err := c.Hello(ctx); err != nil {
		fmt.Printf("REFUSED uid=%d: %v\n", os.Getuid(), err)
		return 0
	}
	fmt.Printf("SERVED uid=%d\n", os.Getuid())
	return 0
}

func TestCheckPeerUID(t *testing.T) {
	cases := []struct {
		peer, self int
		ok         bool
	}{
		{1000, 1000, true},
		{0, 0, true},
		{1001, 1000, false},
		{0, 1000, false}, // root is refused by a non-root server
		{1000, 0, false}, // and a user by a root one
		{65534, 1000, false},
	}
	for _, tc := range cases {
		err := checkPeerUID(tc.peer, tc.self)
		if (err == nil) != tc.ok {
			t.Errorf("checkPeerUID(peer %d, self %d) = %v, want ok=%v", tc.peer, tc.self, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("uid %d", tc.peer)) {
			t.Errorf("error %q does not name the peer's uid", err)
		}
	}
}

// TestPeerFakeUIDRefused: a server told that the peer has another uid
// refuses it, and the client reports why.
func TestPeerFakeUIDRefused(t *testing.T) {
	fb := newFake(snapWith(0, 0))
	ts := startServer(t, fb, func(s *server) {
		s.uid = 4242
		s.peerUID = func(net.Conn) (int, bool, error) { return 4243, true, nil }
	})
	c := dialT(t, ts.path)
	_, err := c.Snapshot(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "uid 4243") {
		t.Fatalf("Snapshot from a foreign uid: %v, want permission denied", err)
	}
	if calls := fb.Calls(); len(calls) != 0 {
		t.Errorf("the backend was called: %s", fmtCalls(calls))
	}
}

// TestPeerRealUIDSeen: the OS reports our own uid for our own connection
// (where it can tell), and such a peer is served.
func TestPeerRealUIDSeen(t *testing.T) {
	var seen = make(chan int, 8)
	ts := startServer(t, newFake(snapWith(0, 0)), func(s *server) {
		real := s.peerUID
		s.peerUID = func(c net.Conn) (int, bool, error) {
			uid, ok, err := real(c)
			if ok && err == nil {
				seen <- uid
			} else {
				seen <- -1
			}
			return uid, ok, err
		}
	})
	if _, err := dialT(t, ts.path).Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	uid := <-seen
	switch {
	case uid == -1 && os.Getuid() >= 0 && peerCredSupported():
		t.Errorf("peerUID could not tell the peer's uid on %s", runtime.GOOS)
	case uid != -1 && uid != os.Getuid():
		t.Errorf("peerUID = %d, want our uid %d", uid, os.Getuid())
	}
}

func peerCredSupported() bool {
	switch runtime.GOOS {
	case "linux", "android", "darwin", "freebsd":
		return true
	}
	return false
}
