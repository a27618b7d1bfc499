// Command testsum reads `go test -json` output on stdin, prints the output
// of failed tests, one line per package, the skipped tests with their
// reasons, and a closing line "N passed, N failed, N skipped". With
// -fail-on-skip=true (CI) a skipped test fails the run.
package main
