package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/tunnel/api"
)

// rotate returns the clients in an order shifted by i, so that no client
// always runs first (or last) in a round on a noisy machine.
func rotate(i int) []string {
	n := len(allClients)
	out := make([]string, n)
	for j := range out {
		out[j] = allClients[(i+j)%n]
	}
	return out
}

// measureThroughput moves opts.Size bytes client→server (to a sink) and
// server→client (from a source) through one forward of each client,
// opts.Rounds times, clients interleaved; the median rate counts.
func measureThroughput(ctx context.Context, e *env, rep *Report) ([]Row, error) {
	o := e.opts
	cs, err := e.startAll(ctx, []string{e.sink, e.source})
	if err != nil {
		return nil, err
	}
	defer stopAll(cs)
	buf := randomBytes(ioBufSize)

	// Per direction, per client: the rate, and the CPU the client process
	// and sshd (all its processes: one client transfers at a time) spent
	// per MiB — steadier than the rate on a shared machine, and telling
	// whether a client makes the server work harder; then all the CPU the
	// transfer took (client, sshd and this process, which is the source
	// or the sink) per MiB, and how many CPUs that kept busy on average:
	// the same work spread over a longer time means the processes waited
	// on each other more.
	type direction struct {
		name, arrow string
		transfer    func(c *client, size int64) (time.Duration, error)
		samples     map[string]map[string][]float64 // row key prefix → client → samples
	}
	var dirs []*direction
	if o.Direction != "down" {
		dirs = append(dirs, &direction{name: "up", arrow: "client→server",
			transfer: func(c *client, size int64) (time.Duration, error) { return sendBytes(c.addrs[0], size, buf) }})
	}
	if o.Direction != "up" {
		dirs = append(dirs, &direction{name: "down", arrow: "server→client",
			transfer: func(c *client, size int64) (time.Duration, error) { return recvBytes(c.addrs[1], size, buf) }})
	}
	warm := min(o.Size, 16<<20)
	for _, d := range dirs {
		d.samples = map[string]map[string][]float64{}
		for _, n := range allClients {
			if _, err := d.transfer(cs[n], warm); err != nil {
				return nil, fmt.Errorf("%s: warm-up %s: %w", n, d.name, err)
			}
		}
	}
	perMiB := func(t time.Duration) float64 { return float64(t) / float64(time.Millisecond) / float64(o.Size>>20) }
	for r := 0; r < o.Rounds; r++ {
		for _, n := range rotate(r) {
			for _, d := range dirs {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				pid := cs[n].p.pid()
				c0, err := procCPU(pid)
				if err != nil {
					return nil, err
				}
				s0 := treeCPU(e.srv.Pids())
				h0, err := procCPU(os.Getpid())
				if err != nil {
					return nil, err
				}
				dur, err := d.transfer(cs[n], o.Size)
				if err != nil {
					return nil, fmt.Errorf("%s: %s, round %d: %w", n, d.name, r+1, err)
				}
				h1, err := procCPU(os.Getpid())
				if err != nil {
					return nil, err
				}
				s1 := treeCPU(e.srv.Pids())
				c1, err := procCPU(pid)
				if err != nil {
					return nil, err
				}
				all := (c1 - c0) + (s1 - s0) + (h1 - h0)
				for key, v := range map[string]float64{
					"throughput":       float64(o.Size) * 8 / dur.Seconds() / 1e6,
					"cpu_per_mib":      perMiB(c1 - c0),
					"sshd_cpu_per_mib": perMiB(s1 - s0),
					"all_cpu_per_mib":  perMiB(all),
					"cpus_busy":        all.Seconds() / dur.Seconds(),
				} {
					if d.samples[key] == nil {
						d.samples[key] = map[string][]float64{}
					}
					d.samples[key][n] = append(d.samples[key][n], v)
				}
			}
		}
	}

	// The target is against OpenSSH's fastest cipher, whatever the
	// default did.
	tgt := &target{ratio: true, v: 1.0, text: "≥ 1.0× ssh aes128-gcm"}
	note := fmt.Sprintf("%d MiB per transfer, median of %d rounds, clients interleaved", o.Size>>20, o.Rounds)
	cpuNote := fmt.Sprintf("utime+stime of the client process (sshd rows: of every sshd process) around each transfer (/proc/PID/stat, 10 ms ticks) ÷ %d MiB; median of %d rounds; no target, it explains the rates", o.Size>>20, o.Rounds)
	allNote := fmt.Sprintf("utime+stime of the client, of every sshd process and of the harness (the source or the sink) around each transfer, ÷ %d MiB; median of %d rounds: all the work the transfer took", o.Size>>20, o.Rounds)
	busyNote := "that CPU time ÷ the transfer's wall time, median of the rounds: how many of the machine's CPUs the transfer kept busy on average; the same work at fewer busy CPUs is time the processes spent waiting on each other"
	var rows []Row
	for _, m := range []struct {
		key, title, unit, better, note string
		t                              *target
	}{
		{"throughput", "throughput ", "Mbit/s", "higher", note, tgt},
		{"cpu_per_mib", "client CPU per MiB, ", "ms/MiB", "lower", cpuNote, nil},
		{"sshd_cpu_per_mib", "sshd CPU per MiB, ", "ms/MiB", "lower", cpuNote, nil},
		{"all_cpu_per_mib", "all CPU per MiB (client + sshd + harness), ", "ms/MiB", "lower", allNote, nil},
		{"cpus_busy", "CPUs busy during the transfer, ", "CPUs", "higher", busyNote, nil},
	} {
		for _, d := range dirs {
			samples := d.samples[m.key]
			r := Row{Key: m.key + "_" + d.name, Title: m.title + d.arrow, Unit: m.unit, Better: m.better, Values: map[string]float64{}, Samples: samples, Note: m.note}
			for n, s := range samples {
				r.Values[n] = median(s)
			}
			r.finishAgainst(clientSSHGCM, m.t)
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// finishAgainst is finish with the ratio taken against one named client.
func (r *Row) finishAgainst(base string, t *target) {
	r.finish(nil)
	k, ok1 := r.Values[clientKuguri]
	b, ok2 := r.Values[base]
	if !ok1 || !ok2 || b == 0 {
		return
	}
	q := k / b
	r.Ratio, r.RatioTo = &q, base
	if t == nil {
		return
	}
	r.Target = t.text
	met := q >= t.v
	if t.le {
		met = q <= t.v
	}
	r.Met = &met
}

// measureLatency opens opts.LatencyConns new connections through each
// client's established tunnel (connect, 1-byte echo, close), interleaved.
func measureLatency(ctx context.Context, e *env, rep *Report) ([]Row, error) {
	o := e.opts
	cs, err := e.startAll(ctx, []string{e.echo})
	if err != nil {
		return nil, err
	}
	defer stopAll(cs)
	for _, n := range allClients {
		for i := 0; i < 20; i++ { // warm-up
			if err := pingOnce(cs[n].addrs[0], 10*time.Second); err != nil {
				return nil, fmt.Errorf("%s: warm-up: %w", n, err)
			}
		}
	}
	ms := map[string][]float64{}
	for i := 0; i < o.LatencyConns; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, n := range rotate(i) {
			t0 := time.Now()
			if err := pingOnce(cs[n].addrs[0], 10*time.Second); err != nil {
				return nil, fmt.Errorf("%s: connection %d: %w", n, i+1, err)
			}
			ms[n] = append(ms[n], float64(time.Since(t0).Microseconds())/1000)
		}
	}
	note := fmt.Sprintf("%d connections per client (connect, 1-byte echo, close), interleaved", o.LatencyConns)
	p50 := Row{Key: "latency_p50", Title: "new connection p50", Unit: "ms", Better: "lower", Values: map[string]float64{}, Note: note}
	p99 := Row{Key: "latency_p99", Title: "new connection p99", Unit: "ms", Better: "lower", Values: map[string]float64{}}
	for n, s := range ms {
		p50.Values[n] = percentile(s, 50)
		p99.Values[n] = percentile(s, 99)
	}
	p50.finish(&target{ratio: true, le: true, v: 1.1, text: "≤ 1.1×"})
	p99.finish(&target{ratio: true, le: true, v: 1.5, text: "≤ 1.5×"})
	return []Row{p50, p99}, nil
}

// measureConcurrency opens opts.Concurrent connections at once through each
// client (a fresh process per client), each echoing opts.ConcBytes, and
// reads each client's peak RSS (VmHWM) under that load.
func measureConcurrency(ctx context.Context, e *env, rep *Report) ([]Row, error) {
	o := e.opts
	payload := randomBytes(o.ConcBytes)
	done := Row{Key: "concurrent_completed", Title: fmt.Sprintf("%d concurrent × %d KiB echo: completed", o.Concurrent, o.ConcBytes>>10), Unit: "conns", Better: "higher", Values: map[string]float64{}}
	took := Row{Key: "concurrent_time", Title: fmt.Sprintf("%d concurrent: total time", o.Concurrent), Unit: "s", Better: "lower", Values: map[string]float64{}, Samples: map[string][]float64{}}
	peak := Row{Key: "peak_rss_load", Title: "peak RSS under that load", Unit: "MiB", Better: "lower", Values: map[string]float64{}}
	var errs, overflows []string
	for _, n := range allClients {
		c, err := e.start(ctx, n, []string{e.echo}, nil)
		if err != nil {
			return nil, err
		}
		if err := pingOnce(c.addrs[0], 10*time.Second); err != nil {
			c.stop()
			return nil, fmt.Errorf("%s: warm-up: %w", n, err)
		}
		// The peak counts from here: the load, not the start-up.
		if err := resetPeakRSS(c.p.pid()); err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("peak RSS of %s includes start-up (clear_refs: %v)", n, err))
		}
		worst := o.Concurrent
		ov0, ovErr := tcpExtCounter("ListenOverflows")
		for r := 0; r < o.ConcRounds; r++ {
			ok, d, firstErr := concurrentEcho(c.addrs[0], o.Concurrent, payload)
			worst = min(worst, ok)
			took.Samples[n] = append(took.Samples[n], d.Seconds())
			if firstErr != nil {
				errs = append(errs, fmt.Sprintf("%s round %d: %d/%d completed, first error: %v; client said: %s",
					n, r+1, ok, o.Concurrent, firstErr, firstLines(c.p.stderr.String(), 2)))
			}
		}
		if ov1, err := tcpExtCounter("ListenOverflows"); err == nil && ovErr == nil {
			overflows = append(overflows, fmt.Sprintf("%s %d", n, ov1-ov0))
		}
		_, hwm, err := c.p.rss()
		c.stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		done.Values[n] = float64(worst)
		took.Values[n] = median(took.Samples[n])
		peak.Values[n] = mib(hwm)
	}
	done.finish(&target{v: float64(o.Concurrent), text: fmt.Sprintf("all %d", o.Concurrent)})
	done.Note = fmt.Sprintf("worst of %d rounds; a fresh client process per client", o.ConcRounds)
	if len(overflows) > 0 {
		done.Note += "; kernel ListenOverflows during the load (accept queue full, SYN retried or reset; ssh -L listens with backlog 128, Go with somaxconn): " + strings.Join(overflows, ", ")
	}
	if len(errs) > 0 {
		done.Note += "; " + strings.Join(errs, "; ")
	}
	took.finish(&target{ratio: true, le: true, v: 1.1, text: "≤ 1.1×"})
	took.Note = fmt.Sprintf("from the first connect to the last byte of the last echo, median of %d rounds", o.ConcRounds)
	peak.finish(&target{ratio: true, le: true, v: 1.0, text: "≤ 1.0×"})
	peak.Note = "VmHWM of the client process (ssh, or kuguri up), reset after start-up where clear_refs allows"
	return []Row{done, took, peak}, nil
}

// concurrentEcho runs n echoes at once and returns how many completed, the
// total time and the first error.
func concurrentEcho(addr string, n int, payload []byte) (int, time.Duration, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ok := 0
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			err := echoOnce(addr, payload, 60*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			ok++
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	return ok, time.Since(start), firstErr
}

// measureIdle holds `kuguri up` with 3 profiles × 5 forwards at the default
// settings, and 3 `ssh -L` processes with 5 forwards each and the same
// keepalive (ServerAliveInterval=15, CountMax=3), idle for opts.IdleWindow:
// RSS at the end, CPU used during the window.
func measureIdle(ctx context.Context, e *env, rep *Report) ([]Row, error) {
	o := e.opts
	targets := []string{e.echo, e.echo, e.echo, e.echo, e.echo}
	var ps []kprofile
	for i := 1; i <= 3; i++ {
		ps = append(ps, kprofile{name: fmt.Sprintf("idle%d", i), addr: e.srv.Addr, user: e.srv.User, known: e.knownHosts, targets: targets})
	}
	k, err := e.startKuguri(ctx, ps)
	if err != nil {
		return nil, err
	}
	defer k.stop()
	for _, a := range k.addrs {
		if err := pingOnce(a, 10*time.Second); err != nil {
			return nil, fmt.Errorf("kuguri forward %s: %w", a, err)
		}
	}
	var sshs []*client
	defer func() {
		for _, c := range sshs {
			c.stop()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := e.startSSH(ctx, clientSSHDefault, e.srv.Addr, e.srv.User, e.knownHosts, targets,
			sshOpts{"ServerAliveInterval=15", "ServerAliveCountMax=3"})
		if err != nil {
			return nil, err
		}
		sshs = append(sshs, c)
	}
	all := append([]*client{k}, sshs...)
	cpu0 := make([]time.Duration, len(all))
	for i, c := range all {
		if cpu0[i], err = procCPU(c.p.pid()); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	select {
	case <-time.After(o.IdleWindow):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	elapsed := time.Since(t0)
	cpu := Row{Key: "idle_cpu", Title: "idle CPU, 3 profiles", Unit: "s/min", Better: "lower", Values: map[string]float64{}}
	rss := Row{Key: "idle_rss", Title: "idle RSS, 3 profiles × 5 forwards", Unit: "MiB", Better: "lower", Values: map[string]float64{}}
	for i, c := range all {
		t, err := procCPU(c.p.pid())
		if err != nil {
			return nil, err
		}
		cur, _, err := c.p.rss()
		if err != nil {
			return nil, err
		}
		cpu.Values[c.name] += (t - cpu0[i]).Seconds() / elapsed.Minutes()
		rss.Values[c.name] += mib(cur)
	}
	cpu.finish(&target{le: true, v: 0.1, text: "≤ 0.1 s/min"})
	rss.finish(&target{le: true, v: 15, text: "≤ 15 MiB"})
	cpu.Note = fmt.Sprintf("utime+stime over a %v idle window at the default keepalive (15 s × 3); ssh column = 3 processes summed (ServerAliveInterval=15), resolution 10 ms", o.IdleWindow.Round(time.Second))
	if o.IdleWindow < time.Minute {
		cpu.Note += fmt.Sprintf("; SHORTENED window (%v, not 60 s): scaled to a minute, coarse", o.IdleWindow.Round(time.Second))
	}
	rss.Note = "VmRSS at the end of the idle window; ssh column = 3 processes with 5 -L each, summed"
	return []Row{rss, cpu}, nil
}

// measureRestart kills sshd (kill -9 of the listener and its children),
// restarts it on the same port, and times how long until a connection
// through kuguri's forward echoes again. Each cycle uses a fresh `kuguri up`
// whose link has just come up, i.e. a backoff at its start (as after a long
// stable period: kuguri resets its backoff once a link stayed up 30 s).
func measureRestart(ctx context.Context, e *env, rep *Report) ([]Row, error) {
	o := e.opts
	var fromListen, fromKill, restartTook []float64
	for i := 0; i < o.Restarts; i++ {
		k, err := e.start(ctx, clientKuguri, []string{e.echo}, nil)
		if err != nil {
			return nil, err
		}
		if err := pingOnce(k.addrs[0], 10*time.Second); err != nil {
			k.stop()
			return nil, err
		}
		tKill := time.Now()
		e.srv.Kill()
		e.srv.Restart()
		tListen := time.Now()
		deadline := tListen.Add(90 * time.Second)
		for {
			err := pingOnce(k.addrs[0], 30*time.Second)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				k.stop()
				return nil, fmt.Errorf("cycle %d: forward not working 90 s after sshd restarted: %v: %s", i+1, err, k.p.stderr.String())
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
		now := time.Now()
		fromListen = append(fromListen, now.Sub(tListen).Seconds())
		fromKill = append(fromKill, now.Sub(tKill).Seconds())
		restartTook = append(restartTook, tListen.Sub(tKill).Seconds())
		k.stop()
	}
	r := Row{Key: "restart_to_forward", Title: "sshd killed+restarted → forward works", Unit: "s", Better: "lower",
		Values:  map[string]float64{clientKuguri: median(fromListen)},
		Samples: map[string][]float64{clientKuguri: fromListen},
		Note: fmt.Sprintf("median of %d, from sshd listening again (kill→working median %.2f s; sshd restart itself %.2f s); default reconnect backoff (1 s initial, full jitter); ssh -L does not reconnect at all",
			o.Restarts, median(fromKill), median(restartTook)),
	}
	return []Row{r}, nil
}

// measureBlackhole makes the server silently stop answering
// (internal/sshserver's Pause: TCP stays up, nothing is read or answered)
// and times how long kuguri takes to say `reconnecting` and ssh takes to
// give up, with the same keepalive on both.
func measureBlackhole(ctx context.Context, e *env, rep *Report) ([]Row, error) {
	o := e.opts
	srv, err := sshserver.New(sshserver.Config{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	defer srv.Close()
	known := filepath.Join(e.dir, "known_hosts_blackhole")
	sshdtest.WriteKnownHosts(e.tb, known, knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, srv.HostKey()))
	ka, cm := o.BlackholeKA, o.BlackholeMax
	bound := time.Duration(ka*cm) * time.Second
	extra := fmt.Sprintf("    keepalive_interval: %ds\n    keepalive_count_max: %d\n", ka, cm)
	var kt, st []float64
	for i := 0; i < o.Blackholes; i++ {
		srv.Pause(false)
		k, err := e.startKuguri(ctx, []kprofile{{name: "bh", addr: ln.Addr().String(), user: "bench", known: known, targets: []string{e.echo}, extra: extra}})
		if err != nil {
			return nil, err
		}
		s, err := e.startSSH(ctx, clientSSHDefault, ln.Addr().String(), "bench", known, []string{e.echo},
			sshOpts{fmt.Sprintf("ServerAliveInterval=%d", ka), fmt.Sprintf("ServerAliveCountMax=%d", cm)})
		if err != nil {
			k.stop()
			return nil, err
		}
		for _, a := range []string{k.addrs[0], s.addrs[0]} {
			if err := pingOnce(a, 10*time.Second); err != nil {
				k.stop()
				s.stop()
				return nil, fmt.Errorf("before the black hole: %w", err)
			}
		}
		type res struct {
			at  time.Time
			err error
		}
		kc := make(chan res, 1)
		wctx, cancel := context.WithCancel(ctx)
		ready := make(chan struct{})
		go func() {
			first := true
			_, err := k.waitState(wctx, bound+30*time.Second, func(sn api.Snapshot) bool {
				if first {
					first = false
					close(ready)
				}
				p, _ := sn.Find("bh")
				return p.State == api.Reconnecting
			})
			kc <- res{time.Now(), err}
		}()
		<-ready // the watch has its first snapshot: nothing is missed
		t0 := time.Now()
		srv.Pause(true)
		var kr res
		select {
		case kr = <-kc:
		case <-ctx.Done():
			kr.err = ctx.Err()
		}
		cancel()
		select {
		case <-s.p.done:
		case <-time.After(bound + 30*time.Second):
		}
		k.stop()
		sOK := s.p.exited()
		sAt := s.p.exitAt
		s.stop()
		srv.DropAll()
		if kr.err != nil {
			return nil, fmt.Errorf("cycle %d: kuguri: %w", i+1, kr.err)
		}
		kt = append(kt, kr.at.Sub(t0).Seconds())
		if sOK {
			st = append(st, sAt.Sub(t0).Seconds())
		}
	}
	srv.Pause(false)
	r := Row{Key: "blackhole_detect", Title: fmt.Sprintf("silent black hole → reconnecting (keepalive %ds × %d)", ka, cm), Unit: "s", Better: "lower",
		Values:  map[string]float64{clientKuguri: median(kt)},
		Samples: map[string][]float64{clientKuguri: kt, clientSSHDefault: st},
		Note: fmt.Sprintf("black hole = internal/sshserver Pause (TCP stays up, the server stops reading and answering; no nft/netns used); median of %d; ssh column = time until ssh -L gives up and exits (it does not reconnect); target = the promised bound interval × count_max + 10%% measurement slack",
			o.Blackholes),
	}
	if len(st) > 0 {
		r.Values[clientSSHDefault] = median(st)
	}
	r.finish(&target{le: true, v: bound.Seconds() * 1.1, text: fmt.Sprintf("≤ %v (+10%%)", bound)})
	return []Row{r}, nil
}

// firstLines returns the first n lines of s, and how many there were in all.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return "(nothing)"
	}
	out := strings.Join(lines[:min(n, len(lines))], " / ")
	if len(lines) > n {
		out += fmt.Sprintf(" (%d lines in all)", len(lines))
	}
	return fmt.Sprintf("%q", out)
}
