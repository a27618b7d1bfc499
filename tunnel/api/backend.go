package api

import "context"

// Backend is the engine as its clients see it. The in-process manager
// (tunnel.Manager) and the control-socket client both implement it, so the
// TUI and the headless commands never know which one they talk to.
type Backend interface {
	// Snapshot returns the current state of every configured profile.
	Snapshot(ctx context.Context) (Snapshot, error)

	// Watch streams snapshots: the first is the full current state, then one
	// after each change. A slow reader misses intermediate snapshots (latest
	// wins) and never slows the engine. The channel is closed when ctx ends
	// or the backend goes away.
	Watch(ctx context.Context) (<-chan Snapshot, error)

	// Start starts the named profiles (all of them with no names). Starting a
	// running profile is not an error.
	Start(ctx context.Context, names ...string) error

	// Stop stops the named profiles (all of them with no names), closing their
	// listeners.
	Stop(ctx context.Context, names ...string) error

	// Reconnect drops the named profiles' links and dials again at once,
	// resetting the backoff; listeners stay bound.
	Reconnect(ctx context.Context, names ...string) error
}
