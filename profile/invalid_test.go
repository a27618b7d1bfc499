package profile

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Each fixture under testdata/invalid breaks exactly one rule; the test
// checks the one message it gives, located by file, line, profile and field.
func TestInvalidFixtures(t *testing.T) {
	tests := []struct {
		file    string
		line    int
		profile string
		field   string
		msg     string // exact
	}{
		{"unknown_key", 4, "vps", "forwads", `unknown field (did you mean "forwards"?)`},
		{"unknown_top_key", 3, "", "profils", `unknown field (did you mean "profiles"?)`},
		{"unknown_forward_key", 7, "vps", "forwards[0].remot", `unknown field (did you mean "remote"?)`},
		{"unknown_defaults_key", 2, "", "defaults.keepalive", `unknown field (did you mean "keepalive_interval"?)`},
		{"port_range", 4, "vps", "port", "port 70000 out of range"},
		{"forward_port_range", 7, "vps", "forwards[1].local", "port 70000 out of range"},
		{"shorthand_bad", 5, "vps", "forwards[0]", `forward "8080:h": want [bind_address:]port:host:hostport`},
		{"duplicate_listen", 11, "other", "forwards[0]", `listen address 127.0.0.1:5432 already used by profile "vps" forward "db" (line 5)`},
		{"duplicate_listen_wildcard", 9, "b", "forwards[0]", `listen address 127.0.0.1:8080 already used by profile "a" forward "web" (line 5)`},
		{"non_loopback", 6, "vps", "forwards[0].local", "listens on non-loopback address 0.0.0.0:8080: set allow_non_loopback: true to allow it"},
		{"non_loopback_shorthand", 5, "vps", "forwards[0]", "listens on non-loopback address :8080: use the mapping form with allow_non_loopback: true"},
		{"non_loopback_remote", 7, "vps", "forwards[0].remote", "listens on non-loopback address 0.0.0.0:9000 on the server: set allow_non_loopback: true to allow it"},
		{"jump_cycle", 4, "a", "jump", "jump cycle: a -> b -> a"},
		{"jump_self", 4, "self", "jump", "jump cycle: self -> self"},
		{"jump_depth", 12, "p10", "jump", "jump chain deeper than 10 hops: p10 -> p9 -> p8 -> p7 -> p6 -> p5 -> p4 -> p3 -> p2 -> p1 -> p0"},
		{"missing_host", 2, "vps", "host", "missing: say which SSH server to connect to (a host name or an ssh_config Host alias)"},
		{"malformed", 4, "", "", "malformed YAML: did not find expected ',' or ']'"},
		{"bad_duration", 4, "vps", "keepalive_interval", `bad duration "15x" (want e.g. "15s", "2m", or a number of seconds)`},
		{"negative_duration", 2, "", "defaults.connect_timeout", "duration -3s is negative"},
		{"duplicate_forward_name", 6, "vps", "forwards[1].name", `duplicate forward name "db"`},
		{"bad_forward_name", 5, "vps", "forwards[0].name", `bad forward name "1db" (want a letter, then letters, digits, '_' or '-')`},
		{"dynamic_with_remote", 5, "vps", "forwards[0].remote", "a dynamic (SOCKS) forward has no remote: the client picks the target"},
		{"bad_type", 5, "vps", "forwards[0].type", `unknown forward type "sideways" (want local, dynamic or remote)`},
		{"duplicate_key", 4, "vps", "host", "duplicate key"},
		{"reconnect_order", 2, "vps", "reconnect", "max (10s) is less than initial (30s)"},
		{"bad_profile_name", 2, "my vps", "", `bad profile name "my vps" (use letters, digits, '.', '_' and '-', starting with a letter or digit)`},
		{"missing_remote", 5, "vps", "forwards[0].remote", "missing: where to connect on the server's side (host:port)"},
		{"bad_jump_spec", 4, "vps", "jump[0]", `bad jump host "alice@bastion:99999": port 99999 out of range`},
		{"profiles_not_mapping", 2, "", "profiles", `want a mapping, got a list`},
		{"count_max", 2, "", "defaults.keepalive_count_max", "0 out of range (1..1000)"},
		{"bad_bool", 4, "lazy", "on_demand", `want true or false, got "maybe"`},
		{"missing_ssh_config", 1, "", "ssh_config", "MISSING_SSH_CONFIG"},
		{"bad_resolver", 1, "", "resolver", `bad resolver "not a resolver" (want host:port or an IP address)`},
		{"socks_not_dynamic", 8, "vps", "forwards[0].socks_user", "only a dynamic (SOCKS) forward takes socks_user (this one is type local)"},
		{"socks_user_no_password", 8, "vps", "forwards[0].socks_user", "needs a password: set socks_password_env (an environment variable) or socks_password_file"},
		{"socks_password_no_user", 5, "vps", "forwards[0].socks_user", "missing: socks_password_file needs socks_user, the user name SOCKS clients log in with"},
		{"socks_two_passwords", 10, "vps", "forwards[0].socks_password_file", "set only one of socks_password_env and socks_password_file"},
		{"socks_bad_env_name", 5, "vps", "forwards[0].socks_password_env", `bad environment variable name "$SOCKS_PASSWORD" (want letters, digits and '_', not starting with a digit)`},
		{"socks_empty_user", 8, "vps", "forwards[0].socks_user", "empty user name"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := newTestEnv(t)
			path := filepath.Join("testdata", "invalid", tt.file+".yaml")
			_, err := Load(e.opts(path, ""))
			if err == nil {
				t.Fatalf("Load(%s) succeeded", path)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid: %v", err)
			}
			fes := fieldErrors(t, err)
			if len(fes) != 1 {
				t.Fatalf("want exactly one problem, got %d:\n%v", len(fes), err)
			}
			fe := fes[0]
			msg := tt.msg
			if msg == "MISSING_SSH_CONFIG" {
				msg = filepath.Join("testdata", "invalid", "no-such-ssh-config") + ": open " + filepath.Join("testdata", "invalid", "no-such-ssh-config") + ": no such file or directory"
			}
			if fe.File != path || fe.Line != tt.line || fe.Profile != tt.profile || fe.Field != tt.field || fe.Msg != msg {
				t.Errorf("got  %s:%d profile=%q field=%q msg=%q\nwant %s:%d profile=%q field=%q msg=%q",
					fe.File, fe.Line, fe.Profile, fe.Field, fe.Msg, path, tt.line, tt.profile, tt.field, msg)
			}
			// The text names all four.
			s := fe.Error()
			for _, part := range []string{path, tt.field, msg} {
				if !strings.Contains(s, part) {
					t.Errorf("Error() = %q lacks %q", s, part)
				}
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	fe := &FieldError{File: "config.yaml", Line: 12, Profile: "vps", Field: "forwards[1].local", Msg: "port 70000 out of range"}
	if got, want := fe.Error(), `config.yaml:12: profile "vps": forwards[1].local: port 70000 out of range`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fe, ErrInvalid) || errors.Is(fe, ErrNotFound) {
		t.Fatal("FieldError must match ErrInvalid and only it")
	}
}

// Every problem in a file is reported, not just the first.
func TestAllProblemsReported(t *testing.T) {
	e := newTestEnv(t)
	path := filepath.Join("testdata", "invalid", "many.yaml")
	_, err := Load(e.opts(path, ""))
	fes := fieldErrors(t, err)
	want := []string{
		`many.yaml:4: profile "vps": port: port 0 out of range`,
		`many.yaml:5: profile "vps": forwads: unknown field (did you mean "forwards"?)`,
		`many.yaml:7: profile "vps": forwards[0]: forward "99999:h:80": port 99999 out of range`,
		`many.yaml:8: profile "vps": forwards[1].remote: missing: where to connect on the server's side (host:port)`,
		`many.yaml:9: profile "nohost": host: missing: say which SSH server to connect to (a host name or an ssh_config Host alias)`,
	}
	if len(fes) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(fes), len(want), err)
	}
	for i, fe := range fes {
		if !strings.HasSuffix(fe.Error(), want[i]) {
			t.Errorf("problem %d = %q, want suffix %q", i, fe.Error(), want[i])
		}
	}
}

func TestMissingConfigFile(t *testing.T) {
	e := newTestEnv(t)
	path := filepath.Join(e.home, "nope.yaml")
	_, err := Load(e.opts(path, ""))
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrNotFound and ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	// The default path, from $KUGURI_CONFIG, is named too.
	e.env["KUGURI_CONFIG"] = filepath.Join(e.home, "env.yaml")
	_, err = Load(e.opts("", ""))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "env.yaml") {
		t.Fatalf("err = %v, want ErrNotFound naming env.yaml", err)
	}
}
