package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kuguri/kuguri/internal/sshdtest"
)

// tlogWriter sends progress lines to the test log.
type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestHarnessSmoke runs the whole harness in its smallest mode against a
// real sshd and the built kuguri binary: every measure must run for every
// client and produce sane values. It asserts that the harness works, never
// how fast anything is.
func TestHarnessSmoke(t *testing.T) {
	sshdtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, t, Options{Mode: "smoke", Command: "test", Log: tlogWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("measures failed: %v", rep.Errors)
	}

	rows := map[string]Row{}
	for _, r := range rep.Rows {
		rows[r.Key] = r
	}
	want := map[string][]string{
		"throughput_up":         allClients,
		"throughput_down":       allClients,
		"cpu_per_mib_up":        allClients,
		"cpu_per_mib_down":      allClients,
		"sshd_cpu_per_mib_up":   allClients,
		"sshd_cpu_per_mib_down": allClients,
		"all_cpu_per_mib_up":    allClients,
		"all_cpu_per_mib_down":  allClients,
		"cpus_busy_up":          allClients,
		"cpus_busy_down":        allClients,
		"latency_p50":           allClients,
		"latency_p99":           allClients,
		"concurrent_completed":  allClients,
		"concurrent_time":       allClients,
		"peak_rss_load":         allClients,
		"idle_rss":              {clientKuguri, clientSSHDefault},
		"idle_cpu":              {clientKuguri, clientSSHDefault},
		"blackhole_detect":      {clientKuguri, clientSSHDefault},
		"restart_to_forward":    {clientKuguri},
	}
	// CPU in 10 ms ticks: a smoke-sized transfer may cost less than one.
	canBeZero := map[string]bool{"idle_cpu": true, "cpu_per_mib_up": true, "cpu_per_mib_down": true, "sshd_cpu_per_mib_up": true, "sshd_cpu_per_mib_down": true,
		"all_cpu_per_mib_up": true, "all_cpu_per_mib_down": true, "cpus_busy_up": true, "cpus_busy_down": true}
	for key, clients := range want {
		r, ok := rows[key]
		if !ok {
			t.Errorf("row %s missing", key)
			continue
		}
		for _, c := range clients {
			v, ok := r.Values[c]
			switch {
			case !ok:
				t.Errorf("row %s: no value for %s", key, c)
			case math.IsNaN(v) || v < 0 || (v == 0 && !canBeZero[key]):
				t.Errorf("row %s: %s = %v", key, c, v)
			}
		}
	}
	for _, c := range allClients {
		if got := rows["concurrent_completed"].Values[c]; got != 20 {
			t.Errorf("%s: %v of 20 concurrent echoes completed", c, got)
		}
	}
	if r := rows["throughput_up"]; r.Ratio == nil || r.RatioTo != clientSSHGCM || r.Met == nil {
		t.Errorf("throughput_up: ratio %v to %q, met %v: want a ratio to %s and a verdict", r.Ratio, r.RatioTo, r.Met, clientSSHGCM)
	}
	if got := rep.Machine.Ciphers[clientSSHGCM]; got != "aes128-gcm@openssh.com" {
		t.Errorf("cipher of %s = %q", clientSSHGCM, got)
	}
	for _, c := range allClients {
		if rep.Machine.Ciphers[c] == "" {
			t.Errorf("no cipher recorded for %s", c)
		}
	}
	if rep.Machine.Cores < 1 || !strings.HasPrefix(rep.Machine.OpenSSH, "OpenSSH_") {
		t.Errorf("machine: %+v", rep.Machine)
	}

	var table bytes.Buffer
	rep.WriteTable(&table)
	for _, s := range []string{"| measure", "kuguri ÷ best ssh", "throughput client→server", "SHORTENED window", "sshserver Pause"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not read back: %v", err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Machine.Ciphers[clientKuguri] != rep.Machine.Ciphers[clientKuguri] {
		t.Errorf("JSON round trip lost data")
	}
	t.Logf("smoke table:\n%s", table.String())
}

func TestRunRejectsUnknownMeasure(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-only", "throughput,nope"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), `"nope": unknown measure`) {
		t.Errorf("stderr: %s", errb.String())
	}
	if code := run([]string{"extra"}, &out, &errb); code != 2 {
		t.Errorf("stray argument: exit %d, want 2", code)
	}
	errb.Reset()
	if code := run([]string{"-direction", "sideways"}, &out, &errb); code != 2 {
		t.Errorf("-direction sideways: exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), `-direction "sideways": want up or down`) {
		t.Errorf("-direction sideways: stderr %s", errb.String())
	}
}

func TestStats(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	if got := median(xs); got != 3 {
		t.Errorf("median = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("even median = %v", got)
	}
	var hundred []float64
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, float64(i))
	}
	if p50, p99 := percentile(hundred, 50), percentile(hundred, 99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
	if xs[0] != 5 {
		t.Error("median sorted its input in place")
	}
}

func TestRowFinish(t *testing.T) {
	r := Row{Better: "lower", Values: map[string]float64{clientKuguri: 1.2, clientSSHGCM: 1.0, clientSSHDefault: 2.0}}
	r.finish(&target{ratio: true, le: true, v: 1.1})
	if r.Ratio == nil || math.Abs(*r.Ratio-1.2) > 1e-9 || r.RatioTo != clientSSHGCM || *r.Met {
		t.Errorf("lower: ratio %v to %s met %v", *r.Ratio, r.RatioTo, *r.Met)
	}
	r = Row{Better: "higher", Values: map[string]float64{clientKuguri: 900, clientSSHGCM: 1000, clientSSHDefault: 800}}
	r.finishAgainst(clientSSHDefault, &target{ratio: true, v: 1.0})
	if r.Ratio == nil || math.Abs(*r.Ratio-1.125) > 1e-9 || !*r.Met {
		t.Errorf("against default: ratio %v met %v", *r.Ratio, *r.Met)
	}
	r = Row{Better: "lower", Values: map[string]float64{clientKuguri: 16}}
	r.finish(&target{le: true, v: 15})
	if r.Ratio != nil || r.Met == nil || *r.Met {
		t.Errorf("absolute: ratio %v met %v", r.Ratio, r.Met)
	}
}

func TestProcReaders(t *testing.T) {
	hwm, err := procStatusKiB(os.Getpid(), "VmHWM")
	if err != nil || hwm <= 0 {
		t.Fatalf("VmHWM of self: %v %v", hwm, err)
	}
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for { // burn CPU until the counter moves (10 ms resolution)
		for i := 0; i < 1e6; i++ {
			x += i
		}
		after, err := procCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time did not move from %v in 5 s of busy loop (x=%d)", before, x)
		}
	}
	if _, err := procStatusKiB(os.Getpid(), "VmNoSuchField"); err == nil {
		t.Error("a missing field read without error")
	}
}
