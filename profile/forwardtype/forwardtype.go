package forwardtype

import "fmt"

// Type says which way a forward goes. Its text form is stable: it crosses the
// control socket and `--json` output.
type Type uint8

const (
	Local   Type = iota // -L: listen on the client, connect on the server
	Dynamic             // -D: SOCKS5 on the client, connect on the server
	Remote              // -R: listen on the server, connect on the client
)

var names = [...]string{Local: "local", Dynamic: "dynamic", Remote: "remote"}

func (t Type) String() string {
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("ForwardType(%d)", uint8(t))
}

func (t Type) MarshalText() ([]byte, error) {
	if int(t) >= len(names) {
		return nil, fmt.Errorf("invalid forward type %d", uint8(t))
	}
	return []byte(names[t]), nil
}

func (t *Type) UnmarshalText(b []byte) error {
	for i, n := range names {
		if n == string(b) {
			*t = Type(i)
			return nil
		}
	}
	return fmt.Errorf("unknown forward type %q (want local, dynamic or remote)", b)
}
