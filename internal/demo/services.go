package demo

import (
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The addresses the demo profiles forward to, written as the seed's real
// config writes them. They exist only inside the demo VPS's Dial, which maps
// them to the loopback services below.
const (
	adminTarget = "127.0.0.1:8443"
	rdpTarget   = "10.0.0.5:3389"
	dbTarget    = "127.0.0.1:5432"
)

// rdpBanner is the line the RDP stand-in sends on every connection.
const rdpBanner = "RDP stand-in on the Windows VM (10.0.0.5:3389), reached through the VPS"

// tcpService is a loopback TCP service that runs handle on every
// connection and, on close, closes the listener and every open connection
// and waits for their goroutines.
type tcpService struct {
	name   string
	ln     net.Listener
	handle func(net.Conn)
	logger *slog.Logger

	wg sync.WaitGroup

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
}

func startTCPService(name string, logger *slog.Logger, handle func(net.Conn)) (*tcpService, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: %s service: %w", name, err)
	}
	s := &tcpService{name: name, ln: ln, handle: handle, logger: logger, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *tcpService) Addr() string { return s.ln.Addr().String() }

func (s *tcpService) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.logger.Warn("demo service accept failed", "service", s.name, "err", err)
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.handle(c)
		}()
	}
}

func (s *tcpService) Close() error {
	s.mu.Lock()
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// serveRDP greets with the banner line, then reads (and ignores) whatever
// the client sends until it hangs up, so `nc` stays connected.
func serveRDP(c net.Conn) {
	if _, err := io.WriteString(c, rdpBanner+"\r\n"); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, c)
}

// serveEcho is the stand-in database: it echoes every byte back.
func serveEcho(c net.Conn) {
	_, _ = io.Copy(c, c)
}

// adminPage is the HTTP "admin UI" the VPS serves on its loopback.
type adminPage struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	hits atomic.Int64
}

func startAdminPage(logger *slog.Logger) (*adminPage, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: admin page: %w", err)
	}
	a := &adminPage{ln: ln, done: make(chan struct{})}
	a.srv = &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(a.done)
		_ = a.srv.Serve(ln)
	}()
	return a, nil
}

func (a *adminPage) Addr() string { return a.ln.Addr().String() }

func (a *adminPage) Close() error {
	err := a.srv.Close()
	<-a.done
	return err
}

// adminText is the page's body; %d is the request number, %s the time.
const adminText = `kuguri demo - admin page

You reached 127.0.0.1:8443 on the demo VPS: a port that is closed to the
outside, like the admin UI of a hardened server. This request came through
kuguri's tunnel:

  your client -> a local forward kuguri holds on 127.0.0.1
              -> SSH to the demo VPS (key-only, host key checked)
              -> 127.0.0.1:8443 on the VPS (this page)

Request #%d at %s.

Now break it: in kuguri press x to cut the VPS's network (packets vanish,
nothing is closed) or K to kill the VPS, run this request again, and watch
kuguri notice the dead link, hold your connection, and reconnect.
`

func (a *adminPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.hits.Add(1)
	now := time.Now().Format("15:04:05")
	text := fmt.Sprintf(adminText, n, now)
	w.Header().Set("Cache-Control", "no-store")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, text)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	title, body, _ := strings.Cut(text, "\n\n")
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222;background:#faf8f2}
h1{font-weight:600;font-size:1.4rem;border-bottom:2px solid #c8553d;padding-bottom:.3rem}
pre{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem;white-space:pre-wrap}
</style></head>
<body><h1>%s</h1><pre>%s</pre></body></html>
`, html.EscapeString(title), html.EscapeString(title), html.EscapeString(body))
}
