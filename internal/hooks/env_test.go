package hooks

import (
	"slices"
	"strings"
	"testing"
)

func TestHookEnvFiltersSecrets(t *testing.T) {
	in := []string{
		"PATH=/usr/bin",
		"HOME=/home/alice",
		"SSH_AUTH_SOCK=/run/agent.sock",
		"SSH_ASKPASS=/usr/bin/ask",
		"SSH_ASKPASS_REQUIRE=force",
		"PGPASSWORD=hunter2",
		"MY_PASSPHRASE=x",
		"AWS_SECRET_ACCESS_KEY=x",
		"GITHUB_TOKEN=x",
		"github_token=x", // case does not matter
		"GOOGLE_APPLICATION_CREDENTIALS=/k.json",
		"SIGNING_PRIVATE_KEY=x",
		"OPENAI_API_KEY=x",
		"SERVICE_APIKEY=x",
		"SESSION_COOKIE=x",
		"KUGURI_STATE=forged", // inherited: must not shadow ours
		"kuguri_profile=forged",
		"KUGURI_CONFIG=/etc/k.yaml",
		"LANG=C.UTF-8",
		"PREFIX=/data/data/com.termux/files/usr",
		"=C:=C:\\", // Windows' per-drive cwd entries have an empty name
		"NOEQUALS",
	}
	got := hookEnv(in, Event{Profile: "vps", State: "up", Prev: "connecting", LastError: "dial: refused"})
	want := []string{
		"PATH=/usr/bin",
		"HOME=/home/alice",
		"SSH_AUTH_SOCK=/run/agent.sock",
		"LANG=C.UTF-8",
		"PREFIX=/data/data/com.termux/files/usr",
		"=C:=C:\\",
		"NOEQUALS",
		"KUGURI_PROFILE=vps",
		"KUGURI_STATE=up",
		"KUGURI_PREV_STATE=connecting",
		"KUGURI_ERROR=dial: refused",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestCapBuffer(t *testing.T) {
	b := &capBuffer{max: 8}
	b.Write([]byte("hello "))
	b.Write([]byte("world\n"))
	b.Write([]byte("more"))
	if got, want := b.String(), "hello wo\n... (8 more bytes not shown)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	b = &capBuffer{max: 100}
	b.Write([]byte("ok\n\n"))
	if got := b.String(); got != "ok" {
		t.Fatalf("got %q, want %q", got, "ok")
	}
}
