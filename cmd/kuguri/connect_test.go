package main

import (
	"slices"
	"testing"

	"github.com/kuguri/kuguri/tunnel/api"
)

func TestSubstituteAndEnv(t *testing.T) {
	fwds := []api.Forward{
		{Name: "rdp", Listen: "127.0.0.1:13389"},
		{Name: "db-main", Listen: "127.0.0.1:5432"},
		{Name: "v6", Listen: "[::1]:8080"},
	}
	got := substitute([]string{"xfreerdp", "/v:{rdp}", "{db-main}{v6}", "{unknown}"}, fwds)
	want := []string{"xfreerdp", "/v:127.0.0.1:13389", "127.0.0.1:5432[::1]:8080", "{unknown}"}
	if !slices.Equal(got, want) {
		t.Errorf("substitute = %q, want %q", got, want)
	}
	env := forwardEnv(fwds)
	for _, kv := range []string{
		"KUGURI_RDP_ADDR=127.0.0.1:13389", "KUGURI_RDP_PORT=13389",
		"KUGURI_DB_MAIN_ADDR=127.0.0.1:5432", "KUGURI_DB_MAIN_PORT=5432",
		"KUGURI_V6_ADDR=[::1]:8080", "KUGURI_V6_PORT=8080",
	} {
		if !slices.Contains(env, kv) {
			t.Errorf("env lacks %s: %q", kv, env)
		}
	}
}
