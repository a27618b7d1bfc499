package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/kuguri/kuguri/profile/forwardtype"
	"github.com/kuguri/kuguri/tunnel/api"
)

// stateLabel is a profile's state in words: never colour alone.
func stateLabel(p api.Profile, now time.Time) string {
	switch p.State {
	case api.Reconnecting:
		var parts []string
		if p.Attempt > 0 {
			parts = append(parts, fmt.Sprintf("attempt %d", p.Attempt))
		}
		if !p.NextRetry.IsZero() {
			parts = append(parts, "next in "+countdown(p.NextRetry.Sub(now)))
		}
		if len(parts) == 0 {
			return "reconnecting"
		}
		return "reconnecting (" + strings.Join(parts, ", ") + ")"
	case api.Connecting:
		if p.Attempt > 1 {
			return fmt.Sprintf("connecting (attempt %d)", p.Attempt)
		}
		return "connecting"
	case api.Failed:
		if r := failureReason(p); r != "" {
			return "failed: " + r
		}
		return "failed"
	}
	return p.State.String()
}

// failureReason names a failure's class in a few words.
func failureReason(p api.Profile) string {
	low := strings.ToLower(p.LastError)
	switch p.ErrorKind {
	case api.KindHostKey:
		switch {
		case strings.Contains(low, "revoked"):
			return "host key revoked"
		case strings.Contains(low, "changed") || strings.Contains(low, "mismatch"):
			return "host key changed"
		case strings.Contains(low, "unknown") || strings.Contains(low, "reject") || strings.Contains(low, "not trusted"):
			return "host key not trusted"
		}
		return "host key"
	case api.KindAuth:
		return "authentication"
	case api.KindConfig:
		return "config error"
	case api.KindNetwork:
		return "network"
	case api.KindForward:
		return "forward"
	case api.KindInternal:
		return "internal error"
	}
	return ""
}

// countdown renders a wait still to come: "4s", "1m05s", "now".
func countdown(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	secs := int64(math.Ceil(d.Seconds()))
	return shortDuration(time.Duration(secs) * time.Second)
}

// shortDuration renders a duration in at most two units: 45s, 12m03s, 3h04m, 2d03h.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, (s%86400)/3600)
}

// uptime is how long an up profile has been up, "" otherwise.
func uptime(p api.Profile, now time.Time) string {
	if p.State != api.Up || p.Since.IsZero() {
		return ""
	}
	return shortDuration(now.Sub(p.Since))
}

// humanBytes renders a byte count with binary units: 812 B, 1.2 KiB, 34 MiB.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / unit
	i := 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.0f %s", v, units[i])
}

// humanRate renders bytes per second.
func humanRate(r float64) string {
	if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		r = 0
	}
	return humanBytes(uint64(r+0.5)) + "/s"
}

// rttText renders a keepalive round trip.
func rttText(ms float64) string {
	switch {
	case ms <= 0:
		return ""
	case ms < 10:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.0fs", ms/1000)
}

// sparkline draws the last width values, scaled between their min and max.
func sparkline(vals []float64, width int) string {
	if width <= 0 || len(vals) == 0 {
		return ""
	}
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	bars := []rune("▁▂▃▄▅▆▇█")
	lo, hi := vals[0], vals[0]
	for _, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	var b strings.Builder
	for _, v := range vals {
		i := 0
		if hi > lo {
			i = int((v - lo) / (hi - lo) * float64(len(bars)-1))
		}
		b.WriteRune(bars[max(0, min(i, len(bars)-1))])
	}
	return b.String()
}

// hopChain renders "bastion → vps".
func hopChain(hops []string) string { return strings.Join(hops, " → ") }

// forwardAddr renders where a forward listens and where it leads.
func forwardAddr(f api.Forward) string {
	switch f.Type {
	case forwardtype.Dynamic:
		return f.Listen + " (SOCKS)"
	case forwardtype.Remote:
		return "server " + f.Listen + " → " + f.Target
	}
	return f.Listen + " → " + f.Target
}

// probeText renders a health probe result, "" when there is none.
func probeText(p *api.Probe) string {
	if p == nil {
		return ""
	}
	if p.OK {
		return "probe ok " + rttText(max(p.Millis, 0.01))
	}
	if p.LastError != "" {
		return "probe failed: " + p.LastError
	}
	return "probe failed"
}

// fit cuts s (which may hold ANSI styles) to at most w cells, marking the cut.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// padRight pads s with spaces to w cells.
func padRight(s string, w int) string {
	if n := w - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// wrapLines wraps each line of s at w cells: at spaces where it can, hard
// where a word is longer than w. The result has no line wider than w.
func wrapLines(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		wrapped := ansi.Wrap(line, w, "")
		for _, l := range strings.Split(wrapped, "\n") {
			out = append(out, strings.TrimRight(l, " "))
		}
	}
	return out
}

// shellWrap wraps a shell command at spaces into lines of at most w cells,
// ending all but the last with " \" so the block pastes as one command.
func shellWrap(cmd string, w int) []string {
	if ansi.StringWidth(cmd) <= w {
		return []string{cmd}
	}
	limit := w - 2 // room for " \"
	if limit < 8 {
		return wrapLines(cmd, w)
	}
	var lines []string
	cur := ""
	flush := func() {
		if cur != "" {
			lines = append(lines, cur)
			cur = ""
		}
	}
	for _, word := range strings.Fields(cmd) {
		for ansi.StringWidth(word) > limit { // a word longer than a line: hard-break it
			flush()
			lines = append(lines, ansi.Truncate(word, limit, ""))
			word = ansi.TruncateLeft(word, limit, "")
		}
		switch {
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= limit:
			cur += " " + word
		default:
			flush()
			cur = word
		}
	}
	flush()
	for i := range len(lines) - 1 {
		lines[i] += " \\"
	}
	return lines
}
