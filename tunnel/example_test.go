package tunnel_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel"
)

// Example keeps a profile up through an embedded SSH server and sends a
// line through its local forward to an echo service.
func Example() {
	dir, _ := os.MkdirTemp("", "kuguri-example")
	defer os.RemoveAll(dir)

	// A client key on disk, and an SSH server that accepts it.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(dir, "id_ed25519")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	signer, _ := ssh.NewSignerFromKey(priv)
	srv, _ := sshserver.New(sshserver.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	// Its host key in known_hosts.
	knownHosts := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, srv.HostKey())
	os.WriteFile(knownHosts, []byte(line+"\n"), 0o600)

	// A service only the server side reaches.
	echo, _ := net.Listen("tcp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	sshConfig := filepath.Join(dir, "ssh_config") // empty: nothing from ~/.ssh/config
	os.WriteFile(sshConfig, nil, 0o600)
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
profiles:
  demo:
    host: 127.0.0.1
    port: %d
    user: me
    identity_files: [%s]
    known_hosts: %s
    forwards:
      - {name: echo, local: 0, remote: %s}
`, port, keyFile, knownHosts, echo.Addr())), 0o600)
	cfg, err := profile.Load(profile.LoadOptions{File: cfgFile, SSHConfig: sshConfig, Home: dir,
		Getenv: func(string) string { return "" }})
	if err != nil {
		fmt.Println(err)
		return
	}

	m := tunnel.NewManager(cfg, tunnel.Options{Version: "example", Getenv: func(string) string { return "" }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	m.Start(ctx, "demo")
	p, err := m.WaitReady(ctx, "demo")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, p.State, p.Forwards[0].Name, p.Forwards[0].State)

	c, _ := net.Dial("tcp", p.Forwards[0].Listen)
	fmt.Fprintln(c, "hello through the tunnel")
	c.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(c)
	c.Close()
	fmt.Print(string(reply))
	// Output:
	// demo up echo listening
	// hello through the tunnel
}
