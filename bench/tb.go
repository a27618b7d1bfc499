package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// runTB lets a main program use helpers written for tests
// (internal/sshdtest): it implements the methods of testing.TB those
// helpers call. The embedded testing.TB is nil; calling any other method
// panics, which would be a bug here.
//
// Fatalf and Skipf panic with a tbStop that runGuarded recovers, as the
// testing package's runtime.Goexit would end a test.
type runTB struct {
	testing.TB // nil: only the methods below may be used

	log io.Writer

	mu       sync.Mutex
	cleanups []func() // guarded by mu
	failed   bool     // guarded by mu
}

type tbStop struct {
	skip bool
	msg  string
}

func newRunTB(log io.Writer) *runTB { return &runTB{log: log} }

func (r *runTB) Helper()      {}
func (r *runTB) Name() string { return "bench" }

func (r *runTB) Logf(format string, args ...any) {
	fmt.Fprintf(r.log, format+"\n", args...)
}

func (r *runTB) Log(args ...any) { fmt.Fprintln(r.log, args...) }

func (r *runTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	r.Logf(format, args...)
}

func (r *runTB) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *runTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	panic(tbStop{msg: fmt.Sprintf(format, args...)})
}

func (r *runTB) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

func (r *runTB) FailNow() { r.Fatalf("FailNow") }

func (r *runTB) Skipf(format string, args ...any) {
	panic(tbStop{skip: true, msg: fmt.Sprintf(format, args...)})
}

func (r *runTB) Skip(args ...any) { r.Skipf("%s", fmt.Sprint(args...)) }

func (r *runTB) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *runTB) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// TempDir returns a fresh directory removed at cleanup.
func (r *runTB) TempDir() string {
	d, err := os.MkdirTemp("", "kuguri-bench-")
	if err != nil {
		r.Fatalf("temp dir: %v", err)
	}
	r.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// close runs the cleanups, last registered first.
func (r *runTB) close() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		f()
	}
}

// runGuarded calls f and turns a Fatalf or Skipf of a runTB into an error.
func runGuarded(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s, ok := v.(tbStop)
			if !ok {
				panic(v)
			}
			if s.skip {
				err = fmt.Errorf("skipped: %s", s.msg)
			} else {
				err = fmt.Errorf("%s", s.msg)
			}
		}
	}()
	return f()
}
