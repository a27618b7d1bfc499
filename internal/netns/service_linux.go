//go:build linux

package netns

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Service is a small TCP service running in the test process on a listener
// inside a namespace: the stand-ins for the VPS's database and admin page
// and the Windows host's RDP. Stop and Start take it down and up again on
// the same address, to test a target that dies while SSH stays up.
type Service struct {
	// Name labels the service ("db", "admin", "rdp").
	Name string
	// Addr is where it listens, as seen inside its namespace
	// ("127.0.0.1:5432"). Set by NewService; read it from the test
	// goroutine.
	Addr string

	// Set at construction.
	ns     *NS
	handle func(net.Conn)

	accepted atomic.Int64

	mu    sync.Mutex
	ln    net.Listener          // guarded by mu; nil while stopped
	conns map[net.Conn]struct{} // guarded by mu
	wg    sync.WaitGroup        // accept loop and handlers
}

// NewService starts a service named name on addr inside ns (nil: the test
// process's own namespace, for loopback tests), calling handle for each
// connection (the connection is closed when handle returns). Port 0 picks
// a free port, kept across Stop and Start; Addr holds the bound address. It
// is stopped at cleanup.
func NewService(tb testing.TB, ns *NS, name, addr string, handle func(net.Conn)) *Service {
	tb.Helper()
	s := &Service{Name: name, Addr: addr, ns: ns, handle: handle, conns: map[net.Conn]struct{}{}}
	tb.Cleanup(s.Stop)
	s.Start(tb)
	return s
}

// Start listens again after Stop. It fails the test when the address cannot
// be bound.
func (s *Service) Start(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return
	}
	var (
		ln  net.Listener
		err error
	)
	// A stopped service's port may linger briefly in the kernel.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s.ns != nil {
			ln, err = s.ns.Listen(s.Addr)
		} else {
			ln, err = net.Listen("tcp", s.Addr)
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // poll while the port frees up
	}
	if err != nil {
		tb.Fatalf("netns: service %s on %s: %v", s.Name, s.Addr, err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String() // port 0 resolved; a restart reuses it
	s.wg.Add(1)
	go s.accept(ln)
}

func (s *Service) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		if s.ln != ln { // stopped meanwhile
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// Stop closes the listener and every open connection and waits for the
// handlers to return. Connecting to Addr is refused afterwards.
func (s *Service) Stop() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Accepted counts the connections accepted so far, across restarts.
func (s *Service) Accepted() int64 { return s.accepted.Load() }

// Echo echoes every byte back and half-closes when the peer does.
func Echo(c net.Conn) {
	_, _ = io.Copy(c, c)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// HTTPPage answers every HTTP request on the connection with body (status
// 200, text/html), keeping the connection alive as the client asks.
func HTTPPage(body string) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			req.Body.Close()
			resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n", len(body))
			if req.Close {
				resp += "Connection: close\r\n"
			}
			if _, err := io.WriteString(c, resp+"\r\n"+body); err != nil || req.Close {
				return
			}
		}
	}
}

// Banner writes banner, then reads and discards until the peer closes: the
// way an RDP server looks to a port check.
func Banner(banner string) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := io.WriteString(c, banner); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	}
}
