package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one run of the harness: the machine, the settings, the rows.
type Report struct {
	Command  string    `json:"command"`
	Mode     string    `json:"mode"`
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Machine  Machine   `json:"machine"`
	Rows     []Row     `json:"rows"`
	Errors   []string  `json:"errors,omitempty"` // measures that could not run
	Notes    []string  `json:"notes,omitempty"`
}

// Machine says where the numbers come from.
type Machine struct {
	Cores     int               `json:"cores"`
	CPU       string            `json:"cpu"`
	Kernel    string            `json:"kernel"`
	Go        string            `json:"go"`
	OpenSSH   string            `json:"openssh"`
	LoadStart string            `json:"load_start"` // /proc/loadavg when the run began
	LoadEnd   string            `json:"load_end"`
	Ciphers   map[string]string `json:"ciphers"` // client -> cipher negotiated (from sshd's DEBUG1 log)
}

// Row is one measured quantity for each client.
type Row struct {
	Key     string               `json:"key"` // stable: "throughput_up", ...
	Title   string               `json:"title"`
	Unit    string               `json:"unit"`
	Better  string               `json:"better"`             // "higher" or "lower"
	Values  map[string]float64   `json:"values"`             // client -> value
	Ratio   *float64             `json:"ratio,omitempty"`    // kuguri / best OpenSSH
	RatioTo string               `json:"ratio_to,omitempty"` // which OpenSSH client was best
	Target  string               `json:"target,omitempty"`
	Met     *bool                `json:"met,omitempty"`
	Note    string               `json:"note,omitempty"`
	Samples map[string][]float64 `json:"samples,omitempty"`
}

// target says what kuguri should reach on a row.
type target struct {
	ratio bool    // compare Ratio (else kuguri's own value)
	le    bool    // must be ≤ v (else ≥ v)
	v     float64 //
	text  string
}

// finish computes the ratio to the best OpenSSH client and checks t.
func (r *Row) finish(t *target) {
	k, ok := r.Values[clientKuguri]
	best, bestName := math.NaN(), ""
	for _, n := range allClients[1:] {
		v, has := r.Values[n]
		if !has {
			continue
		}
		if bestName == "" || (r.Better == "higher" && v > best) || (r.Better == "lower" && v < best) {
			best, bestName = v, n
		}
	}
	if ok && bestName != "" && best != 0 {
		q := k / best
		r.Ratio, r.RatioTo = &q, bestName
	}
	if t == nil || !ok {
		return
	}
	r.Target = t.text
	v := k
	if t.ratio {
		if r.Ratio == nil {
			return
		}
		v = *r.Ratio
	}
	met := v >= t.v
	if t.le {
		met = v <= t.v
	}
	r.Met = &met
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile (p in 0..100).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func readMachine(sshBin string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Ciphers: map[string]string{}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.OpenSSH = opensshVersion(sshBin)
	m.LoadStart = loadAvg()
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func fmtValue(v float64, ok bool) string {
	switch {
	case !ok:
		return "—"
	case math.IsNaN(v):
		return "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// WriteTable prints the report as a Markdown table (readable as plain text).
func (rep *Report) WriteTable(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d cores, %s, linux %s, %s, %s; load average %s at start, %s at end\n",
		m.Cores, m.CPU, m.Kernel, m.Go, m.OpenSSH, m.LoadStart, m.LoadEnd)
	var cs []string
	for _, n := range allClients {
		if c, ok := m.Ciphers[n]; ok {
			cs = append(cs, n+"="+c)
		}
	}
	fmt.Fprintf(w, "ciphers negotiated (sshd log): %s\n", strings.Join(cs, ", "))
	fmt.Fprintf(w, "command: %s (mode %s, %s)\n\n", rep.Command, rep.Mode, rep.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| measure\t unit\t kuguri\t ssh aes128-gcm\t ssh default\t kuguri ÷ best ssh\t target\t met\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t---\t---\t---\t---\t")
	for _, r := range rep.Rows {
		ratio := "—"
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.2f×", *r.Ratio)
		}
		met := ""
		if r.Met != nil {
			met = "not met"
			if *r.Met {
				met = "met"
			}
		}
		cells := []string{r.Title, r.Unit}
		for _, n := range allClients {
			v, ok := r.Values[n]
			cells = append(cells, fmtValue(v, ok))
		}
		cells = append(cells, ratio, r.Target, met)
		fmt.Fprintln(tw, "| "+strings.Join(cells, "\t ")+"\t")
	}
	tw.Flush()
	var notes []string
	for _, r := range rep.Rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("- %s: %s", r.Title, r.Note))
		}
	}
	notes = append(notes, prefixed("- ", rep.Notes)...)
	notes = append(notes, prefixed("- NOT RUN: ", rep.Errors)...)
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
}

func prefixed(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
