package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/kuguri/kuguri/profile/forwardtype"
	"github.com/kuguri/kuguri/tui"
	"github.com/kuguri/kuguri/tunnel/api"
)

func main() {
	attached := flag.Bool("attached", false, "pretend to be attached to `kuguri up`")
	connectDelay := flag.Duration("connect-delay", 300*time.Millisecond, "time a start spends connecting")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	b := newFakeBackend(*connectDelay)
	err := tui.Run(ctx, tui.Options{
		Backend:  b,
		Attached: *attached,
		Banner:   "tuidemo: a fake backend; enter starts the selected profile",
	})
	b.close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tuidemo:", err)
		os.Exit(1)
	}
}

// fakeBackend is an api.Backend kept in memory.
type fakeBackend struct {
	delay time.Duration

	mu       sync.Mutex
	profiles []api.Profile
	subs     map[chan api.Snapshot]struct{}
	timers   []*time.Timer
}

func newFakeBackend(delay time.Duration) *fakeBackend {
	now := time.Now()
	return &fakeBackend{
		delay: delay,
		subs:  map[chan api.Snapshot]struct{}{},
		profiles: []api.Profile{
			{
				Name: "demo", State: api.Stopped, Since: now, Hops: []string{"bastion", "demo"},
				SSHCommand: "ssh -J bastion -L 127.0.0.1:18080:127.0.0.1:8080 -N demo",
				Forwards: []api.Forward{
					{Name: "web", Type: forwardtype.Local, Listen: "127.0.0.1:18080", Target: "127.0.0.1:8080"},
					{Name: "socks", Type: forwardtype.Dynamic, Listen: "127.0.0.1:1080"},
				},
			},
			{
				Name: "lazy", State: api.Standby, Since: now, Hops: []string{"demo"},
				SSHCommand: "ssh -L 127.0.0.1:15432:127.0.0.1:5432 -N demo",
				Forwards: []api.Forward{
					{Name: "db", Type: forwardtype.Local, Listen: "127.0.0.1:15432", Target: "127.0.0.1:5432", State: api.Listening},
				},
			},
		},
	}
}

func (b *fakeBackend) snapshotLocked() api.Snapshot {
	ps := make([]api.Profile, len(b.profiles))
	for i, p := range b.profiles {
		p.Forwards = append([]api.Forward(nil), p.Forwards...)
		p.Hops = append([]string(nil), p.Hops...)
		ps[i] = p
	}
	return api.Snapshot{Profiles: ps}
}

// publishLocked sends the latest snapshot to every subscriber, replacing an
// unread one (latest wins).
func (b *fakeBackend) publishLocked() {
	s := b.snapshotLocked()
	for ch := range b.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

func (b *fakeBackend) Snapshot(context.Context) (api.Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snapshotLocked(), nil
}

func (b *fakeBackend) Watch(ctx context.Context) (<-chan api.Snapshot, error) {
	ch := make(chan api.Snapshot, 1)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	ch <- b.snapshotLocked()
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
		b.mu.Unlock()
	}()
	return ch, nil
}

func (b *fakeBackend) each(names []string, fn func(p *api.Profile)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range names {
		found := false
		for i := range b.profiles {
			if b.profiles[i].Name == n {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("profile %s: %w", n, api.ErrConfig)
		}
	}
	for i := range b.profiles {
		p := &b.profiles[i]
		if len(names) > 0 && !contains(names, p.Name) {
			continue
		}
		fn(p)
	}
	b.publishLocked()
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (b *fakeBackend) Start(_ context.Context, names ...string) error {
	return b.each(names, func(p *api.Profile) {
		if p.State == api.Up || p.State == api.Connecting {
			return
		}
		b.connectLocked(p, api.Connecting)
	})
}

// connectLocked moves p to state, then up after the delay.
func (b *fakeBackend) connectLocked(p *api.Profile, state api.State) {
	name := p.Name
	p.State, p.Since, p.Attempt = state, time.Now(), 1
	for i := range p.Forwards {
		p.Forwards[i].State = api.Waiting
	}
	b.timers = append(b.timers, time.AfterFunc(b.delay, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i := range b.profiles {
			q := &b.profiles[i]
			if q.Name != name || (q.State != api.Connecting && q.State != api.Reconnecting) {
				continue
			}
			if q.State == api.Reconnecting {
				q.Reconnects++
			}
			q.State, q.Since, q.Attempt, q.RTTMillis = api.Up, time.Now(), 0, 12.5
			for j := range q.Forwards {
				q.Forwards[j].State = api.Listening
			}
			q.Events = append(q.Events, api.Event{At: time.Now(), Level: "info", Text: "connected"})
		}
		b.publishLocked()
	}))
}

func (b *fakeBackend) Stop(_ context.Context, names ...string) error {
	return b.each(names, func(p *api.Profile) {
		p.State, p.Since, p.RTTMillis = api.Stopped, time.Now(), 0
		for i := range p.Forwards {
			p.Forwards[i].State = api.Closed
		}
	})
}

func (b *fakeBackend) Reconnect(_ context.Context, names ...string) error {
	return b.each(names, func(p *api.Profile) {
		if p.State == api.Stopped {
			return
		}
		b.connectLocked(p, api.Reconnecting)
	})
}

func (b *fakeBackend) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.timers {
		t.Stop()
	}
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}
