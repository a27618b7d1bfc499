//go:build race

package faulttest

// raceEnabled builds the kuguri binary under test with -race too, so the
// faults exercised here also hunt data races in the engine.
const raceEnabled = true
