package tunnel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SOCKS5 (RFC 1928) for dynamic forwards: CONNECT only, IPv4, IPv6 and
// domain names (resolved by the SSH server, which receives the name in the
// direct-tcpip request). A forward with socks_user requires RFC 1929
// username/password authentication and offers nothing else (see
// socksauth.go); one without offers only "no authentication".

const (
	socksSucceeded          = 0x00
	socksGeneralFailure     = 0x01
	socksNotAllowed         = 0x02
	socksHostUnreachable    = 0x04
	socksConnectionRefused  = 0x05
	socksCommandUnsupported = 0x07
	socksAddrUnsupported    = 0x08
)

// Authentication methods (RFC 1928 section 3) and the RFC 1929
// sub-negotiation's version and status bytes.
const (
	socksMethodNone     = 0x00
	socksMethodPassword = 0x02
	socksNoAcceptable   = 0xff
	socksAuthVersion    = 0x01
	socksAuthOK         = 0x00
	socksAuthFailed     = 0x01
)

const socksHandshakeTimeout = 30 * time.Second

// errSOCKSLogin is a failed RFC 1929 login. It never carries what the
// client offered.
var errSOCKSLogin = errors.New("bad username or password")

type socksRequest struct {
	host string
	port int
}

// reply sends the reply to a CONNECT request.
func (r *socksRequest) reply(conn net.Conn, code byte) error {
	_, err := conn.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
	return err
}

// socksHandshake reads the greeting, authenticates the client when a is not
// nil, and reads the CONNECT request. On a request it cannot serve, it
// answers with the RFC's code and returns an error; a failed login answers
// 0x01 0x01 and returns an error matching errSOCKSLogin. The caller closes
// conn on error.
func socksHandshake(conn net.Conn, a *socksAuth) (*socksRequest, error) {
	conn.SetDeadline(time.Now().Add(socksHandshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	var b [258]byte
	if _, err := io.ReadFull(conn, b[:2]); err != nil {
		return nil, err
	}
	if b[0] != 5 {
		return nil, fmt.Errorf("not SOCKS5 (version %d)", b[0])
	}
	nm := int(b[1])
	if _, err := io.ReadFull(conn, b[:nm]); err != nil {
		return nil, err
	}
	want, wantText := byte(socksMethodNone), "no authentication"
	if a != nil {
		want, wantText = socksMethodPassword, "username/password"
	}
	offered := false
	for _, m := range b[:nm] {
		if m == want {
			offered = true
		}
	}
	if !offered {
		conn.Write([]byte{5, socksNoAcceptable})
		return nil, fmt.Errorf("client offers no acceptable auth method (this forward takes %s only)", wantText)
	}
	if _, err := conn.Write([]byte{5, want}); err != nil {
		return nil, err
	}
	if a != nil {
		if err := a.login(conn, b[:]); err != nil {
			return nil, err
		}
	}
	if _, err := io.ReadFull(conn, b[:4]); err != nil {
		return nil, err
	}
	req := &socksRequest{}
	if b[0] != 5 {
		return nil, fmt.Errorf("bad request version %d", b[0])
	}
	cmd, atyp := b[1], b[3]
	switch atyp {
	case 1:
		if _, err := io.ReadFull(conn, b[:4]); err != nil {
			return nil, err
		}
		req.host = net.IP(b[:4]).String()
	case 4:
		if _, err := io.ReadFull(conn, b[:16]); err != nil {
			return nil, err
		}
		req.host = net.IP(b[:16]).String()
	case 3:
		if _, err := io.ReadFull(conn, b[:1]); err != nil {
			return nil, err
		}
		n := int(b[0])
		if _, err := io.ReadFull(conn, b[:n]); err != nil {
			return nil, err
		}
		req.host = string(b[:n])
	default:
		req.reply(conn, socksAddrUnsupported)
		return nil, fmt.Errorf("address type %d not supported", atyp)
	}
	if _, err := io.ReadFull(conn, b[:2]); err != nil {
		return nil, err
	}
	req.port = int(b[0])<<8 | int(b[1])
	if cmd != 1 {
		req.reply(conn, socksCommandUnsupported)
		return nil, fmt.Errorf("command %d not supported (only CONNECT)", cmd)
	}
	return req, nil
}

// socksReplyFor maps a failure to open the channel to a SOCKS reply code.
func socksReplyFor(err error) byte {
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) {
		switch oce.Reason {
		case ssh.Prohibited:
			return socksNotAllowed
		case ssh.ConnectionFailed:
			if strings.Contains(strings.ToLower(oce.Message), "refused") {
				return socksConnectionRefused
			}
			return socksHostUnreachable
		}
	}
	return socksGeneralFailure
}
