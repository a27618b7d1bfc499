package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Output     string
	Elapsed    float64
}

func main() {
	failOnSkip := flag.Bool("fail-on-skip", false, "exit 1 if any test was skipped")
	flag.Parse()
	os.Exit(run(*failOnSkip))
}

func run(failOnSkip bool) int {
	type key struct{ pkg, test string }
	output := map[key][]string{}
	var passed, failed, skipped int
	var failures, skips []key
	var pkgLines []string
	buildFailed := false

	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Build errors are printed as plain text.
			fmt.Println(string(line))
			if strings.Contains(string(line), "build failed") || strings.HasPrefix(string(line), "#") {
				buildFailed = true
			}
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Print(e.Output)
		case "build-fail":
			buildFailed = true
			fmt.Printf("build failed: %s\n", e.ImportPath)
		case "output":
			if len(output[k]) < 400 {
				output[k] = append(output[k], e.Output)
			}
		case "pass":
			if e.Test != "" {
				passed++
			} else {
				pkgLines = append(pkgLines, fmt.Sprintf("ok   %s %.1fs", e.Package, e.Elapsed))
			}
		case "fail":
			if e.Test != "" {
				failed++
				failures = append(failures, k)
			} else {
				pkgLines = append(pkgLines, fmt.Sprintf("FAIL %s %.1fs", e.Package, e.Elapsed))
				if len(output[k]) > 0 {
					failures = append(failures, k)
				}
			}
		case "skip":
			if e.Test != "" {
				skipped++
				skips = append(skips, k)
			} else {
				pkgLines = append(pkgLines, fmt.Sprintf("?    %s [no test files]", e.Package))
			}
		}
	}
	for _, k := range failures {
		fmt.Printf("--- output of %s %s\n%s", k.pkg, k.test, strings.Join(output[k], ""))
	}
	sort.Strings(pkgLines)
	for _, l := range pkgLines {
		fmt.Println(l)
	}
	for _, k := range skips {
		reason := ""
		for _, o := range output[k] {
			if t := strings.TrimSpace(o); t != "" && !strings.HasPrefix(t, "=== ") && !strings.HasPrefix(t, "--- SKIP") {
				reason = t
			}
		}
		fmt.Printf("skipped: %s %s: %s\n", k.pkg, k.test, reason)
	}
	fmt.Printf("%d skipped tests\n", skipped)
	fmt.Printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case failed > 0 || buildFailed:
		return 1
	case failOnSkip && skipped > 0:
		fmt.Println("CI: skipped tests count as failures here")
		return 1
	}
	return 0
}
