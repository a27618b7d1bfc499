package profile

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestImportHost(t *testing.T) {
	e := newTestEnv(t)
	path := write(t, e.home, "ssh_cfg", `
Host web
    HostName web.example.net
    Port 2022
    User www
    LocalForward 8080 localhost:80
    LocalForward 127.0.0.2:8080 127.0.0.1:81
    LocalForward *:9090 127.0.0.1:90
    LocalForward [::1]:5432 [fe80::1]:5432
    DynamicForward 1080
    RemoteForward 9000 localhost:3000
    RemoteForward /tmp/remote.sock /tmp/local.sock
Host *
    LocalForward 7000 127.0.0.1:7000
`)
	out, err := ImportHost(path, "web", e.opts("", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "not imported:") || !strings.Contains(out, "RemoteForward /tmp/remote.sock /tmp/local.sock") {
		t.Errorf("the Unix-socket forward is not reported:\n%s", out)
	}
	c := e.mustLoad(t, out, "")
	p, err := c.Lookup("web")
	if err != nil {
		t.Fatalf("imported YAML:\n%s\n%v", out, err)
	}
	if p.Host != "web" || p.Port != 2022 || p.User != "www" {
		t.Errorf("profile = %+v", p)
	}
	want := []Forward{
		{Name: "L8080", Type: Local, Local: "127.0.0.1:8080", Remote: "localhost:80"},
		{Name: "L8080_2", Type: Local, Local: "127.0.0.2:8080", Remote: "127.0.0.1:81"},
		{Name: "L9090", Type: Local, Local: ":9090", Remote: "127.0.0.1:90", AllowNonLoopback: true},
		{Name: "L5432", Type: Local, Local: "[::1]:5432", Remote: "[fe80::1]:5432"},
		{Name: "D1080", Type: Dynamic, Local: "127.0.0.1:1080"},
		{Name: "R9000", Type: Remote, Remote: "127.0.0.1:9000", Local: "localhost:3000"},
		{Name: "L7000", Type: Local, Local: "127.0.0.1:7000", Remote: "127.0.0.1:7000"},
	}
	if !slices.Equal(p.Forwards, want) {
		t.Errorf("forwards = %+v\nwant %+v\nYAML:\n%s", p.Forwards, want, out)
	}
}

func TestImportHostErrors(t *testing.T) {
	e := newTestEnv(t)
	path := write(t, e.home, "ssh_cfg", "Host known\n    HostName k.example.net\n")
	for _, alias := range []string{"*", "a?", "unknown", "two words", ""} {
		_, err := ImportHost(path, alias, e.opts("", ""))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ImportHost(%q) = %v, want ErrInvalid", alias, err)
		}
	}
	_, err := ImportHost(path+".missing", "known", e.opts("", ""))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ssh_cfg.missing") {
		t.Errorf("missing file: %v", err)
	}
	// The default path is ~/.ssh/config.
	write(t, e.home, ".ssh/config", "Host dflt\n    Port 2\n")
	out, err := ImportHost("", "dflt", e.opts("", ""))
	if err != nil || !strings.Contains(out, "port: 2") {
		t.Errorf("default path: %q, %v", out, err)
	}
}
