package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	singleProc()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	os.Exit(a.main(context.Background(), os.Args[1:], sigs))
}
