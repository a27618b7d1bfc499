package sshdtest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// EchoServer starts a loopback TCP service that echoes every byte back and
// half-closes its side when the peer does. It returns "127.0.0.1:PORT"; the
// listener and all connections are closed at cleanup.
func EchoServer(tb testing.TB) string {
	tb.Helper()
	return Serve(tb, func(c net.Conn) {
		_, _ = io.Copy(c, c)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	})
}

// Serve runs handle for every connection to a fresh loopback listener and
// returns "127.0.0.1:PORT". Each connection is closed when handle returns;
// at cleanup the listener and every open connection are closed and the
// handlers waited for.
func Serve(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("sshdtest: listen: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// HTTPServer starts a loopback HTTP server answering every request with body
// and returns "127.0.0.1:PORT". It is closed at cleanup.
func HTTPServer(tb testing.TB, body string) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, strings.NewReader(body))
	}))
	tb.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
