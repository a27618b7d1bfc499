package main

import (
	"errors"
	"testing"

	"github.com/spf13/cobra"
)

func TestArgChecks(t *testing.T) {
	tests := []struct {
		name    string
		check   func(*cobra.Command, []string) error
		args    []string
		wantErr bool
	}{
		{"noArgs empty", noArgs, nil, false},
		{"noArgs one", noArgs, []string{"x"}, true},
		{"one profile", exactlyOneProfile, []string{"vps"}, false},
		{"one profile missing", exactlyOneProfile, nil, true},
		{"one profile two", exactlyOneProfile, []string{"a", "b"}, true},
		{"at most one: none", atMostOneProfile, nil, false},
		{"at most one: one", atMostOneProfile, []string{"a"}, false},
		{"at most one: two", atMostOneProfile, []string{"a", "b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check(&cobra.Command{}, tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			var ue *usageError
			if err != nil && !errors.As(err, &ue) {
				t.Fatalf("err %T is not a usage error", err)
			}
			if err != nil && exitCode(err) != exitUsage {
				t.Fatalf("exit code %d, want %d", exitCode(err), exitUsage)
			}
		})
	}
}

func TestProfilesOrAll(t *testing.T) {
	tests := []struct {
		args    []string
		all     bool
		wantErr bool
	}{
		{[]string{"a"}, false, false},
		{nil, true, false},
		{nil, false, true},
		{[]string{"a"}, true, true},
	}
	for _, tt := range tests {
		err := profilesOrAll(tt.args, tt.all, "down")
		if (err != nil) != tt.wantErr {
			t.Errorf("profilesOrAll(%q, %v) = %v, want error %v", tt.args, tt.all, err, tt.wantErr)
		}
	}
}

// TestConnectArgs runs the real command line parser: the dash splits the
// profile from the command.
func TestConnectArgs(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{[]string{"vps"}, false},
		{[]string{"vps", "--", "true"}, false},
		{[]string{"--", "true"}, true},
		{[]string{"vps", "extra"}, true},
		{[]string{"vps", "--"}, true},
	}
	for _, tt := range tests {
		var got error
		cmd := &cobra.Command{Use: "connect", Args: connectArgs, RunE: func(*cobra.Command, []string) error { return nil }}
		cmd.SetArgs(tt.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		got = cmd.Execute()
		if (got != nil) != tt.wantErr {
			t.Errorf("connect %q: err = %v, want error %v", tt.args, got, tt.wantErr)
		}
	}
}
