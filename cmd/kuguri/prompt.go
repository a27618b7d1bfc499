package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/kuguri/kuguri/tunnel/api"
)

// termPrompter asks on the controlling terminal. Questions are serialized: the
// engine may ask for several hops at once.
type termPrompter struct {
	mu  sync.Mutex
	tty *os.File // read and written; never closed while in use
	out io.Writer
	// yes answers every host-key question with "accept and save" without
	// asking (`kuguri trust --yes`).
	yes bool
}

var _ api.Prompter = (*termPrompter)(nil)

// terminalPrompter returns a Prompter on the controlling terminal, or
// api.Headless when there is none.
func (a *app) terminalPrompter() api.Prompter {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return &termPrompter{tty: f, out: a.stderr}
		}
		return api.Headless{}
	}
	return &termPrompter{tty: tty, out: tty}
}

// readLine reads one line from the terminal, giving up when ctx ends (the
// read itself cannot be interrupted; its result is then discarded).
func (p *termPrompter) readLine(ctx context.Context) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := bufio.NewReader(p.tty).ReadString('\n')
		ch <- result{strings.TrimRight(s, "\r\n"), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (p *termPrompter) readSecret(ctx context.Context) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(int(p.tty.Fd()))
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		fmt.Fprintln(p.out)
		return r.b, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *termPrompter) HostKey(ctx context.Context, q api.HostKeyQuestion) (api.HostKeyDecision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "The authenticity of hop %d (%s, %s) of profile %q can't be established.\n", q.Hop, q.HopName, q.Addr, q.Profile)
	fmt.Fprintf(p.out, "%s key fingerprint is %s.\n", q.KeyType, q.Fingerprint)
	if p.yes {
		fmt.Fprintf(p.out, "Adding it to %s (--yes).\n", q.KnownHostsFile)
		return api.AcceptAndSave, nil
	}
	for {
		fmt.Fprintf(p.out, "Trust it and save it to %s? [yes/once/no]: ", q.KnownHostsFile)
		s, err := p.readLine(ctx)
		if err != nil {
			return api.Reject, err
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "yes", "y":
			return api.AcceptAndSave, nil
		case "once", "o":
			return api.AcceptOnce, nil
		case "no", "n", "":
			return api.Reject, nil
		}
		fmt.Fprintln(p.out, `Please type "yes", "once" or "no".`)
	}
}

func (p *termPrompter) Passphrase(ctx context.Context, q api.PassphraseQuestion) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q.Retry {
		fmt.Fprintln(p.out, "Wrong passphrase, try again.")
	}
	fmt.Fprintf(p.out, "Enter passphrase for key %s (profile %s, %s): ", q.KeyFile, q.Profile, q.HopName)
	return p.readSecret(ctx)
}

func (p *termPrompter) KeyboardInteractive(ctx context.Context, q api.KeyboardInteractiveQuestion) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q.Name != "" {
		fmt.Fprintln(p.out, q.Name)
	}
	if q.Instruction != "" {
		fmt.Fprintln(p.out, q.Instruction)
	}
	answers := make([]string, len(q.Questions))
	for i, question := range q.Questions {
		fmt.Fprintf(p.out, "(%s@%s) %s", q.User, q.HopName, question)
		if i < len(q.Echo) && q.Echo[i] {
			s, err := p.readLine(ctx)
			if err != nil {
				return nil, err
			}
			answers[i] = s
			continue
		}
		b, err := p.readSecret(ctx)
		if err != nil {
			return nil, err
		}
		answers[i] = string(b)
		clear(b)
	}
	return answers, nil
}
