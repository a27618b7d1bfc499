// Package control is the local control socket of a headless `kuguri up`: the
// server side (Listen, Serve) exposes an api.Backend on a Unix socket, and the
// client side (Dial, *Client) implements api.Backend again on top of it, so
// `kuguri status`, `kuguri down` and `kuguri tui` drive a running engine
// exactly as they would drive an in-process one (the shape of Tailscale's
// ipnserver and local client).
//
// # Protocol
//
// Newline-delimited JSON over a Unix stream socket. Each request is one line,
//
//	{"id":1,"op":"snapshot|watch|start|stop|reconnect|hello","names":[...]}
//
// and is answered by one line carrying the same id,
//
//	{"id":1,"ok":true,"snapshot":{...}}
//	{"id":1,"ok":false,"error":"...","kind":"auth"}
//
// where kind is an api.ErrorKind, so that the client rebuilds an error that
// satisfies errors.Is(err, api.ErrAuth) and friends. Requests on one
// connection run concurrently and may be answered out of order. A watch
// answers with a stream of {"id":N,"ok":true,"snapshot":...} lines, the first
// holding the full state, and ends with {"id":N,"ok":true,"done":true} when
// the backend ends it. A line with id 0 and ok false is about the connection
// itself (junk input, a refused peer); the server closes the connection after
// it. Request lines are limited to MaxRequestLine bytes.
//
// A client that stops reading never slows the server or the engine: each
// connection has one writer goroutine; watch snapshots wait in a per-watch
// slot where a newer one replaces an older one, and a write that does not
// complete within a deadline (10s) drops the client.
//
// # Security
//
// The socket lives in a directory that is ours and not writable by group or
// others (created 0700 when missing) and is itself mode 0600. Where the OS
// tells a socket's peer (SO_PEERCRED on Linux and Android, LOCAL_PEERCRED on
// Darwin and FreeBSD) the server also refuses any peer whose uid differs from
// its own, root included. Elsewhere (Windows) file permissions alone guard it.
//
// # Imports
//
// control imports the standard library, golang.org/x/sys/unix and
// tunnel/api only. It must not import the engine (tunnel), x/crypto/ssh,
// cobra, viper or bubbletea: the client side is linked into every command.
package control
