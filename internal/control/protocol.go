package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/kuguri/kuguri/tunnel/api"
)

// ProtocolVersion is the version of the wire protocol described in the
// package documentation; Hello reports it.
const ProtocolVersion = 1

// Limits of what a request may hold.
const (
	MaxRequestLine = 64 << 10 // bytes in one request line, newline excluded
	MaxNames       = 1024     // profile names in one request
	MaxNameLen     = 256      // bytes in one profile name
)

// maxResponseLine bounds one response line read by the client: a snapshot
// with many profiles and their events is far larger than a request.
const maxResponseLine = 16 << 20

// Op is a request's operation. Its text form is the wire form.
type Op string

const (
	OpHello     Op = "hello"
	OpSnapshot  Op = "snapshot"
	OpWatch     Op = "watch"
	OpStart     Op = "start"
	OpStop      Op = "stop"
	OpReconnect Op = "reconnect"
)

func (o Op) String() string { return string(o) }

// takesNames reports whether o accepts profile names, and whether o is known.
func (o Op) takesNames() (names, known bool) {
	switch o {
	case OpHello, OpSnapshot, OpWatch:
		return false, true
	case OpStart, OpStop, OpReconnect:
		return true, true
	}
	return false, false
}

// Request is one request line.
type Request struct {
	ID    uint64   `json:"id"`
	Op    Op       `json:"op"`
	Names []string `json:"names,omitempty"`
}

// Response is one response line. Exactly one of Snapshot, Hello and Done is
// set on a successful answer that carries anything; Start, Stop and
// Reconnect answer with only ID and OK.
type Response struct {
	ID       uint64        `json:"id"`
	OK       bool          `json:"ok"`
	Error    string        `json:"error,omitempty"`
	Kind     api.ErrorKind `json:"kind,omitempty"`
	Snapshot *api.Snapshot `json:"snapshot,omitempty"`
	Hello    *Hello        `json:"hello,omitempty"`
	Done     bool          `json:"done,omitempty"` // a watch ended
}

// Hello is what a server says about itself.
type Hello struct {
	Version  string `json:"version"`  // the server binary's version
	PID      int    `json:"pid"`      // the server's process id
	Protocol int    `json:"protocol"` // ProtocolVersion of the server
}

// errProtocol marks a request the server cannot read; the connection is
// closed after answering it.
var errProtocol = errors.New("bad request")

// DecodeRequest parses and checks one request line (without its newline).
// It accepts exactly one JSON object with a positive id, a known op, no
// unknown fields, and names only for start, stop and reconnect. Errors wrap
// an internal protocol sentinel and never echo more than a short excerpt of
// the input.
func DecodeRequest(line []byte) (Request, error) {
	if len(line) > MaxRequestLine {
		return Request{}, fmt.Errorf("%w: line of %d bytes exceeds %d", errProtocol, len(line), MaxRequestLine)
	}
	if !utf8.Valid(line) {
		return Request{}, fmt.Errorf("%w: not valid UTF-8", errProtocol)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("%w: %v", errProtocol, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, fmt.Errorf("%w: data after the JSON object", errProtocol)
	}
	if r.ID == 0 {
		return Request{}, fmt.Errorf("%w: id must be a positive integer", errProtocol)
	}
	names, known := r.Op.takesNames()
	if !known {
		return Request{}, fmt.Errorf("%w: unknown op %q", errProtocol, excerpt(string(r.Op)))
	}
	if !names && len(r.Names) > 0 {
		return Request{}, fmt.Errorf("%w: op %s takes no names", errProtocol, r.Op)
	}
	if len(r.Names) > MaxNames {
		return Request{}, fmt.Errorf("%w: %d names exceed %d", errProtocol, len(r.Names), MaxNames)
	}
	for _, n := range r.Names {
		if err := checkName(n); err != nil {
			return Request{}, fmt.Errorf("%w: %v", errProtocol, err)
		}
	}
	if len(r.Names) == 0 {
		r.Names = nil
	}
	return r, nil
}

func checkName(n string) error {
	if n == "" {
		return errors.New("empty profile name")
	}
	if len(n) > MaxNameLen {
		return fmt.Errorf("profile name of %d bytes exceeds %d", len(n), MaxNameLen)
	}
	for _, c := range n {
		if c < 0x20 || c == 0x7f || c == utf8.RuneError {
			return fmt.Errorf("profile name %q has a control or invalid character", excerpt(n))
		}
	}
	return nil
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// encodeLine marshals v as one line, newline included.
func encodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// errorResponse answers request id with err, keeping its kind.
func errorResponse(id uint64, err error) Response {
	return Response{ID: id, OK: false, Error: err.Error(), Kind: api.KindOf(err)}
}

// responseError rebuilds the typed error that r carries.
func responseError(r Response) error {
	kind := r.Kind
	if kind.Sentinel() == nil {
		kind = api.KindInternal
	}
	msg := r.Error
	if msg == "" {
		msg = "request failed (the server gave no reason)"
	}
	return api.Errorf(kind, "%s", msg)
}
