package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		quick    = fs.Bool("quick", false, "shorter run: 128 MiB transfers, 3 rounds, 10 s idle window (said so in the output)")
		smoke    = fs.Bool("smoke", false, "smallest run (a few MiB, 20 connections): proves the harness works, measures nothing useful")
		jsonFile = fs.String("json", "", "also write the report as JSON to `FILE`")
		only     = fs.String("only", "", "comma-separated measures to run: "+strings.Join(measureNames, ","))
		size     = fs.Int64("size", 0, "bytes per throughput transfer (default: 512 MiB, -quick 128 MiB)")
		rounds   = fs.Int("rounds", 0, "throughput rounds (default 5, -quick 3)")
		dir      = fs.String("direction", "", "throughput in one direction only: up (client→server) or down (server→client), e.g. while profiling one of them")
		kuguri   = fs.String("kuguri", "", "prebuilt kuguri binary (default: go build ./cmd/kuguri into a temp dir)")
		sshBin   = fs.String("ssh", "/usr/bin/ssh", "OpenSSH client")
		quiet    = fs.Bool("q", false, "no progress lines on stderr")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *dir != "" && *dir != "up" && *dir != "down" {
		fmt.Fprintf(stderr, "bench: -direction %q: want up or down\n", *dir)
		return 2
	}
	mode := "full"
	switch {
	case *smoke:
		mode = "smoke"
	case *quick:
		mode = "quick"
	}
	opts := Options{
		Mode:      mode,
		Command:   "go run ./bench " + strings.Join(args, " "),
		Size:      *size,
		Rounds:    *rounds,
		Direction: *dir,
		Kuguri:    *kuguri,
		SSH:       *sshBin,
		Log:       stderr,
	}
	if *quiet {
		opts.Log = io.Discard
	}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	opts.Command = strings.TrimSpace(opts.Command)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tb := newRunTB(stderr)
	defer tb.close()
	var rep *Report
	err := runGuarded(func() error {
		var err error
		rep, err = Run(ctx, tb, opts)
		return err
	})
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	rep.WriteTable(stdout)
	if *jsonFile != "" {
		f, err := os.Create(*jsonFile)
		if err == nil {
			err = rep.WriteJSON(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench: -json: %v\n", err)
			return 1
		}
	}
	if len(rep.Errors) > 0 {
		return 1
	}
	return 0
}
