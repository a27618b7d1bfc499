package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Options configure one run. Zero fields take the mode's defaults.
type Options struct {
	Mode    string   // "full" (default), "quick" or "smoke"
	Only    []string // measure names to run; empty = all
	Command string   // the command line, for the report

	Size         int64         // bytes per throughput transfer
	Direction    string        // throughput: "up", "down", or "" for both
	Rounds       int           // throughput rounds (median)
	LatencyConns int           // connections per client for latency
	Concurrent   int           // simultaneous connections
	ConcBytes    int           // bytes echoed by each
	ConcRounds   int           // rounds of the concurrency measure (median time)
	IdleWindow   time.Duration // idle CPU window
	Restarts     int           // sshd kill/restart cycles
	Blackholes   int           // black-hole cycles
	BlackholeKA  int           // keepalive interval (s) for the black-hole measure
	BlackholeMax int           // keepalive count max for it

	Kuguri string    // prebuilt kuguri binary; "" = go build ./cmd/kuguri
	SSH    string    // OpenSSH client; "" = /usr/bin/ssh
	Log    io.Writer // progress; nil = discard
}

// measures in run order. restart kills the shared sshd: it runs last.
var measureNames = []string{"throughput", "latency", "concurrency", "idle", "blackhole", "restart"}

func (o Options) withDefaults() Options {
	type preset struct {
		size                                         int64
		rounds, lat, conc, concBytes, concRounds     int
		idle                                         time.Duration
		restarts, blackholes, bhInterval, bhCountMax int
	}
	presets := map[string]preset{
		"full":  {512 << 20, 5, 400, 500, 16 << 10, 3, 60 * time.Second, 10, 5, 2, 3},
		"quick": {128 << 20, 3, 400, 500, 16 << 10, 1, 10 * time.Second, 3, 2, 2, 3},
		"smoke": {4 << 20, 1, 20, 20, 16 << 10, 1, 2 * time.Second, 1, 1, 1, 2},
	}
	if o.Mode == "" {
		o.Mode = "full"
	}
	p, ok := presets[o.Mode]
	if !ok {
		p = presets["full"]
	}
	set := func(dst *int, v int) {
		if *dst <= 0 {
			*dst = v
		}
	}
	if o.Size <= 0 {
		o.Size = p.size
	}
	set(&o.Rounds, p.rounds)
	set(&o.LatencyConns, p.lat)
	set(&o.Concurrent, p.conc)
	set(&o.ConcBytes, p.concBytes)
	set(&o.ConcRounds, p.concRounds)
	if o.IdleWindow <= 0 {
		o.IdleWindow = p.idle
	}
	set(&o.Restarts, p.restarts)
	set(&o.Blackholes, p.blackholes)
	set(&o.BlackholeKA, p.bhInterval)
	set(&o.BlackholeMax, p.bhCountMax)
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

func (o Options) wants(name string) bool { return len(o.Only) == 0 || slices.Contains(o.Only, name) }

// Run runs the harness. tb owns the sshd and the servers (a *testing.T in
// the smoke test, a runTB in main); everything is cleaned up through it. A
// measure that fails is reported in Report.Errors; Run's error is for setup
// failures only.
func Run(ctx context.Context, tb testing.TB, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	for _, n := range opts.Only {
		if !slices.Contains(measureNames, n) {
			return nil, fmt.Errorf("-only %q: unknown measure (have %s)", n, strings.Join(measureNames, ", "))
		}
	}
	rep := &Report{Command: opts.Command, Mode: opts.Mode, Started: time.Now(), Machine: readMachine(opts.SSH)}
	progress := func(format string, args ...any) {
		fmt.Fprintf(opts.Log, "bench: "+format+"\n", args...)
	}
	progress("load average %s; setting up sshd, kuguri binary, target services", rep.Machine.LoadStart)
	e, err := newEnv(tb, opts)
	if err != nil {
		return nil, err
	}
	type measure func(ctx context.Context, e *env, rep *Report) ([]Row, error)
	all := map[string]measure{
		"throughput":  measureThroughput,
		"latency":     measureLatency,
		"concurrency": measureConcurrency,
		"idle":        measureIdle,
		"blackhole":   measureBlackhole,
		"restart":     measureRestart,
	}
	for _, name := range measureNames {
		if !opts.wants(name) {
			continue
		}
		if ctx.Err() != nil {
			rep.Errors = append(rep.Errors, name+": "+ctx.Err().Error())
			continue
		}
		progress("%s ... (load %s)", name, loadAvg())
		start := time.Now()
		var rows []Row
		err := runGuarded(func() error {
			var err error
			rows, err = all[name](ctx, e, rep)
			return err
		})
		if err != nil {
			progress("%s failed: %v", name, err)
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", name, err))
		}
		rep.Rows = append(rep.Rows, rows...)
		progress("%s done in %v", name, time.Since(start).Round(100*time.Millisecond))
	}
	e.mu.Lock()
	for k, v := range e.ciphers {
		rep.Machine.Ciphers[k] = v
	}
	e.mu.Unlock()
	rep.Machine.LoadEnd = loadAvg()
	rep.Duration = time.Since(rep.Started).Round(time.Second).String()
	return rep, nil
}

func opensshVersion(sshBin string) string {
	if sshBin == "" {
		sshBin = "/usr/bin/ssh"
	}
	out, err := exec.Command(sshBin, "-V").CombinedOutput()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
