package tunnel

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/tunnel/api"
)

// serveRemote keeps a remote forward (-R) requested on client for as long as
// ctx lives: tcpip-forward for spec.Remote, retried with backoff while the
// server refuses (it may still hold the port from the previous connection;
// state Waiting meanwhile), each forwarded-tcpip connection dialled to
// spec.Local on this side. wg tracks every goroutine it starts.
func (f *forward) serveRemote(ctx context.Context, client *ssh.Client, clock Clock, wg *sync.WaitGroup, bo backoff) {
	defer wg.Done()
	defer f.setRemote(api.Waiting, "")
	for {
		ln, err := client.Listen("tcp", f.spec.Remote)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.stats.setErr(fmt.Errorf("remote listen on %s: %w", f.spec.Remote, err))
			f.setRemote(api.Waiting, "")
			t := clock.NewTimer(max(bo.next(), 100*time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
			continue
		}
		f.stats.setErr(nil)
		f.setRemote(api.Listening, ln.Addr().String())
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.handleRemote(ctx, c)
			}()
		}
		stop()
		ln.Close()
		if ctx.Err() != nil {
			return
		}
	}
}

func (f *forward) setRemote(st api.ForwardState, listen string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remoteState = st
	if listen != "" {
		f.remoteListen = listen
	}
}

func (f *forward) handleRemote(ctx context.Context, c net.Conn) {
	f.stats.active.Add(1)
	f.stats.total.Add(1)
	defer f.stats.active.Add(-1)
	d := net.Dialer{Timeout: 15 * time.Second}
	local, err := d.DialContext(ctx, "tcp", f.spec.Local)
	if err != nil {
		f.stats.setErr(fmt.Errorf("%s: %w", f.spec.Local, err))
		c.Close()
		return
	}
	// Idle connections must not outlive the link: the supervisor waits for
	// them before redialling.
	stop := context.AfterFunc(ctx, func() { local.Close(); c.Close() })
	defer stop()
	bridgeConns(local, c, &f.stats)
}

// bridgeConns copies between a local conn and a forwarded channel conn
// (both half-closable), counting bytes like bridge.
func bridgeConns(local, tunnel net.Conn, st *fwdStats) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := copyCount(tunnel, local, &st.bytesOut); err == nil {
			closeWrite(tunnel)
		} else {
			tunnel.Close()
			local.Close()
		}
	}()
	if err := copyCount(local, tunnel, &st.bytesIn); err == nil {
		closeWrite(local)
	} else {
		tunnel.Close()
		local.Close()
	}
	<-done
	tunnel.Close()
	local.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(closeWriter); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
