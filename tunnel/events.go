package tunnel

import (
	"sync"

	"github.com/kuguri/kuguri/tunnel/api"
)

// eventCap bounds each profile's event history.
const eventCap = 50

// eventRing keeps a profile's most recent events. Safe for concurrent use.
type eventRing struct {
	mu    sync.Mutex
	buf   [eventCap]api.Event
	start int // guarded by mu
	n     int // guarded by mu
}

func (r *eventRing) add(e api.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n < eventCap {
		r.buf[(r.start+r.n)%eventCap] = e
		r.n++
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % eventCap
}

// list returns the events oldest first.
func (r *eventRing) list() []api.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return nil
	}
	out := make([]api.Event, r.n)
	for i := range r.n {
		out[i] = r.buf[(r.start+i)%eventCap]
	}
	return out
}
