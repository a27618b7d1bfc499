// Package securitytest holds only tests: security properties of the whole
// engine that no single package can show (no secret reaches a log, a
// snapshot or an error; listeners bind loopback).
package securitytest
