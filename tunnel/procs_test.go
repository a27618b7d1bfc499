package tunnel

import (
	"runtime"
	"testing"
)

func TestProcLimit(t *testing.T) {
	var p procLimit
	before := runtime.GOMAXPROCS(0)
	r1 := p.hold(func(string) string { return "" })
	r2 := p.hold(func(string) string { return "" })
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS while held = %d, want 1", got)
	}
	r1()
	r1() // a second call is a no-op
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS with one hold left = %d, want 1", got)
	}
	r2()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS after the last release = %d, want %d", got, before)
	}

	// The environment's choice is left alone.
	runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(before)
	r3 := p.hold(func(k string) string {
		if k == "GOMAXPROCS" {
			return "2"
		}
		return ""
	})
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS with the environment's 2 = %d", got)
	}
	r3()
}
