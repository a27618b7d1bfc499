package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/kuguri/kuguri/profile/forwardtype"
)

func TestStateText(t *testing.T) {
	for s := Stopped; s <= Failed; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s || string(b) != s.String() {
			t.Errorf("state %d: %q -> %v (%v)", s, b, back, err)
		}
	}
	if _, err := State(99).MarshalText(); err == nil {
		t.Error("an invalid state marshalled")
	}
	var s State
	if err := s.UnmarshalText([]byte("upp")); err == nil {
		t.Error("an unknown state unmarshalled")
	}
	for fs := Closed; fs <= Error; fs++ {
		b, _ := fs.MarshalText()
		var back ForwardState
		if err := back.UnmarshalText(b); err != nil || back != fs {
			t.Errorf("forward state %d: %q -> %v (%v)", fs, b, back, err)
		}
	}
}

// TestSnapshotJSON pins the `status --json` field names of DESIGN.md.
func TestSnapshotJSON(t *testing.T) {
	snap := Snapshot{Profiles: []Profile{{
		Name: "vps", State: Reconnecting, Reconnects: 2, RTTMillis: 1.5,
		Forwards: []Forward{{Name: "db", Type: forwardtype.Local, Listen: "127.0.0.1:5432", Target: "127.0.0.1:5432", State: Waiting}},
	}}}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Profiles []map[string]any `json:"profiles"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	p := raw.Profiles[0]
	for _, k := range []string{"name", "state", "since", "last_error", "reconnects", "rtt_ms", "forwards"} {
		if _, ok := p[k]; !ok {
			t.Errorf("profile JSON lacks %q: %s", k, b)
		}
	}
	if p["state"] != "reconnecting" {
		t.Errorf("state = %v, want the text form", p["state"])
	}
	f := p["forwards"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "type", "listen", "target", "state", "active", "total", "bytes_in", "bytes_out", "last_error"} {
		if _, ok := f[k]; !ok {
			t.Errorf("forward JSON lacks %q: %s", k, b)
		}
	}
	if f["type"] != "local" || f["state"] != "waiting" {
		t.Errorf("forward type/state = %v/%v, want text forms", f["type"], f["state"])
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil || back.Profiles[0].State != Reconnecting || back.Profiles[0].Forwards[0].State != Waiting {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		err  error
		want ErrorKind
	}{
		{nil, KindNone},
		{errors.New("x"), KindInternal},
		{fmt.Errorf("hop 1: %w", ErrHostKey), KindHostKey},
		{fmt.Errorf("hop 1: %w", ErrAuth), KindAuth},
		{fmt.Errorf("x: %w", ErrNetwork), KindNetwork},
		{fmt.Errorf("x: %w", ErrForward), KindForward},
		{fmt.Errorf("x: %w", ErrConfig), KindConfig},
		{Errorf(KindAuth, "rebuilt"), KindAuth},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
		if tt.want != KindNone && tt.want != KindInternal {
			if rebuilt := Errorf(tt.want, "%v", tt.err); !errors.Is(rebuilt, tt.want.Sentinel()) {
				t.Errorf("Errorf(%q) does not match its sentinel", tt.want)
			}
		}
	}
}
