// Package api is the engine's public face: the plain-data snapshot types
// (profile and forward state), the Backend interface that the in-process
// manager and the control-socket client both implement, the Prompter through
// which the engine asks a person something, and the error classes callers
// branch on.
//
// It is a leaf: it imports only the standard library and profile/forwardtype. It must not import x/crypto/ssh, cobra, viper or bubbletea, so
// that the TUI and the control-socket client can depend on it without pulling
// in the engine. Values here are immutable once published: nothing outside
// the tunnel package builds or mutates a Snapshot.
package api
