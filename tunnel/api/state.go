package api

import (
	"fmt"
	"time"

	"github.com/kuguri/kuguri/profile/forwardtype"
)

// State is a profile's lifecycle state. Its text form is stable: it crosses the
// control socket and appears in `status --json`.
type State uint8

const (
	Stopped      State = iota // not running; no listeners
	Standby                   // on-demand: listeners bound, no SSH connection yet
	Connecting                // first connection attempt in progress
	Up                        // connected; forwards serving
	Reconnecting              // the link was lost or an attempt failed; retrying
	Failed                    // stopped for good (changed host key, config error)
)

var stateNames = [...]string{
	Stopped:      "stopped",
	Standby:      "standby",
	Connecting:   "connecting",
	Up:           "up",
	Reconnecting: "reconnecting",
	Failed:       "failed",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("api: invalid State %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("api: unknown state %q", b)
}

// ForwardState is one forward's state. Its text form is stable.
type ForwardState uint8

const (
	Closed    ForwardState = iota // the profile is stopped: nothing bound
	Listening                     // bound and serving through a live link
	Waiting                       // bound (or requested) but the link is not ready; clients are held
	Error                         // the forward failed (port in use, remote request refused)
)

var forwardStateNames = [...]string{
	Closed:    "closed",
	Listening: "listening",
	Waiting:   "waiting",
	Error:     "error",
}

func (s ForwardState) String() string {
	if int(s) < len(forwardStateNames) {
		return forwardStateNames[s]
	}
	return fmt.Sprintf("ForwardState(%d)", uint8(s))
}

func (s ForwardState) MarshalText() ([]byte, error) {
	if int(s) >= len(forwardStateNames) {
		return nil, fmt.Errorf("api: invalid ForwardState %d", uint8(s))
	}
	return []byte(forwardStateNames[s]), nil
}

func (s *ForwardState) UnmarshalText(b []byte) error {
	for i, n := range forwardStateNames {
		if n == string(b) {
			*s = ForwardState(i)
			return nil
		}
	}
	return fmt.Errorf("api: unknown forward state %q", b)
}

// Snapshot is the whole engine's state at one moment. `status --json` prints
// it as is.
type Snapshot struct {
	Profiles []Profile `json:"profiles"`
}

// Find returns the named profile's state.
func (s Snapshot) Find(name string) (Profile, bool) {
	for _, p := range s.Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Profile is one profile's state.
type Profile struct {
	Name       string    `json:"name"`
	State      State     `json:"state"`
	Since      time.Time `json:"since"`      // when State last changed
	LastError  string    `json:"last_error"` // empty when none; never contains secrets
	ErrorKind  ErrorKind `json:"error_kind,omitempty"`
	Reconnects int       `json:"reconnects"` // successful reconnects since start
	RTTMillis  float64   `json:"rtt_ms"`     // last keepalive round trip; 0 before the first
	// Attempt is the number of the connection attempt in progress or next
	// (1 for the first); NextRetry is when the next one starts, zero when none
	// is scheduled.
	Attempt   int       `json:"attempt"`
	NextRetry time.Time `json:"next_retry,omitzero"`
	// Note says in plain words what the state alone does not: "auth failed 3
	// times; next try in 5m", "needs a one-time code: reconnect by hand".
	Note       string    `json:"note,omitempty"`
	Hops       []string  `json:"hops"`        // display names, first hop first; last is the target
	SSHCommand string    `json:"ssh_command"` // the equivalent OpenSSH command line
	Forwards   []Forward `json:"forwards"`
	Events     []Event   `json:"events,omitempty"` // recent events, oldest first, bounded
}

// Forward is one forward's state and counters. BytesIn counts bytes that came
// in from the tunnel toward the client side; BytesOut bytes sent into it.
type Forward struct {
	Name      string           `json:"name"`
	Type      forwardtype.Type `json:"type"`
	Listen    string           `json:"listen"` // the address actually bound (port 0 resolved)
	Target    string           `json:"target"`
	State     ForwardState     `json:"state"`
	Active    int              `json:"active"`
	Total     uint64           `json:"total"`
	BytesIn   uint64           `json:"bytes_in"`
	BytesOut  uint64           `json:"bytes_out"`
	LastError string           `json:"last_error"`
	// Probe is the last health probe of the target, when probes are on.
	Probe *Probe `json:"probe,omitempty"`
}

// Probe is the result of one health probe of a forward's target.
type Probe struct {
	At        time.Time `json:"at"`
	OK        bool      `json:"ok"`
	Millis    float64   `json:"ms"`
	LastError string    `json:"last_error,omitempty"`
}

// Event is one line of a profile's recent history, for the TUI's log pane.
type Event struct {
	At    time.Time `json:"at"`
	Level string    `json:"level"` // "info", "warn", "error"
	Text  string    `json:"text"`
}
