// Package forwardtype holds the one enum that both the config model
// (profile) and the engine's plain-data API (tunnel/api) need: which way a
// forward goes. It is a leaf of the standard library only, so that the TUI
// and the control-socket client can name forward types without importing
// the config loader.
package forwardtype
