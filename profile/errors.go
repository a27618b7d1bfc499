package profile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid matches (errors.Is) every configuration problem profile
// reports: bad YAML, unknown keys, bad values, unknown profiles, jump cycles,
// a missing config file. The CLI maps it to exit status 2.
var ErrInvalid = errors.New("invalid configuration")

// ErrNotFound matches (errors.Is) a config file that does not exist, so the
// CLI can point at examples/config.yaml. Such an error matches ErrInvalid too.
var ErrNotFound = errors.New("config file not found")

// ErrUnknownProfile matches (errors.Is) Lookup/Resolve of a name that is not
// in the config; it matches ErrInvalid too.
var ErrUnknownProfile = errors.New("unknown profile")

// FieldError is one configuration problem, located as precisely as known.
// Its text reads
//
//	config.yaml:12: profile "vps": forwards[1].local: port 70000 out of range
//
// with the parts that are unknown left out. Every FieldError matches
// ErrInvalid; Err, when set, is a more specific cause (ErrNotFound,
// ErrUnknownProfile, an I/O error) reachable with errors.Is/As.
type FieldError struct {
	File    string // config (or ssh_config) file, as named to Load
	Line    int    // 1-based; 0 when unknown
	Profile string // "" when the problem is not inside a profile
	Field   string // path inside the profile or file: "forwards[1].local", "defaults.connect_timeout"
	Msg     string
	Err     error // optional cause
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Profile != "" {
		fmt.Fprintf(&b, "profile %q: ", e.Profile)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports true for ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the cause, if any.
func (e *FieldError) Unwrap() error { return e.Err }

// problems collects FieldErrors; Err joins them (nil when none).
type problems struct {
	list []error
}

func (p *problems) add(e *FieldError) { p.list = append(p.list, e) }

func (p *problems) addf(file string, line int, prof, field, format string, args ...any) {
	p.add(&FieldError{File: file, Line: line, Profile: prof, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// maxProblems bounds how many problems one error lists.
const maxProblems = 100

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	if len(p.list) > maxProblems {
		more := len(p.list) - maxProblems
		p.list = append(p.list[:maxProblems:maxProblems], &FieldError{Msg: fmt.Sprintf("and %d more problems", more)})
	}
	if len(p.list) == 1 {
		return p.list[0]
	}
	return errors.Join(p.list...)
}

// asFieldError wraps a plain error (from a parser helper) into a FieldError
// with location; FieldErrors pass through, gaining location they lack.
func asFieldError(err error, file string, line int, prof, field string) *FieldError {
	var fe *FieldError
	if errors.As(err, &fe) {
		c := *fe
		if c.File == "" {
			c.File = file
		}
		if c.Line == 0 {
			c.Line = line
		}
		if c.Profile == "" {
			c.Profile = prof
		}
		if c.Field == "" {
			c.Field = field
		}
		return &c
	}
	return &FieldError{File: file, Line: line, Profile: prof, Field: field, Msg: err.Error()}
}
