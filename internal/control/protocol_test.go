package control

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kuguri/kuguri/tunnel/api"
)

func TestDecodeRequest(t *testing.T) {
	good := []struct {
		in   string
		want Request
	}{
		{`{"id":1,"op":"hello"}`, Request{ID: 1, Op: OpHello}},
		{`{"id":2,"op":"snapshot","names":[]}`, Request{ID: 2, Op: OpSnapshot}},
		{`{"id":3,"op":"watch","names":null}`, Request{ID: 3, Op: OpWatch}},
		{` {"op":"start","id":18446744073709551615,"names":["vps","a.b","Ünï"]} `, Request{ID: 1<<64 - 1, Op: OpStart, Names: []string{"vps", "a.b", "Ünï"}}},
		{`{"id":5,"op":"stop"}`, Request{ID: 5, Op: OpStop}},
		{`{"id":6,"op":"reconnect","names":["x"]}`, Request{ID: 6, Op: OpReconnect, Names: []string{"x"}}},
	}
	for _, tc := range good {
		got, err := DecodeRequest([]byte(tc.in))
		if err != nil {
			t.Errorf("DecodeRequest(%s): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DecodeRequest(%s) = %+v, want %+v", tc.in, got, tc.want)
		}
	}

	bad := []struct{ in, want string }{
		{``, "EOF"},
		{`null`, "positive"},
		{`{}`, "positive"},
		{`{"id":1}`, `unknown op ""`},
		{`{"id":1,"op":"HELLO"}`, "unknown op"},
		{`{"id":1.5,"op":"hello"}`, "cannot unmarshal"},
		{`{"id":"1","op":"hello"}`, "cannot unmarshal"},
		{`{"id":1,"op":"hello"} x`, "after the JSON object"},
		{`{"id":1,"op":"start","names":[""]}`, "empty profile name"},
		{`{"id":1,"op":"start","names":["a\u0000b"]}`, "control"},
		{`{"id":1,"op":"start","names":["a\nb"]}`, "control"},
		{`{"id":1,"op":"start","names":[1]}`, "cannot unmarshal"},
		{`{"id":1,"op":"start","names":["` + strings.Repeat("n", MaxNameLen+1) + `"]}`, "exceeds"},
		{`{"id":1,"op":"start","names":[` + strings.Repeat(`"a",`, MaxNames) + `"a"]}`, "names exceed"},
		{`{"id":1,"op":"watch","names":["vps"]}`, "takes no names"},
		{`{"id":1,"op":"hello","extra":true}`, "unknown field"},
		{"{\"id\":1,\"op\":\"hello\xff\"}", "UTF-8"},
		{`{"id":1,"op":"` + strings.Repeat("z", 100) + `"}`, "..."},
		{`{"id":1,"op":"start","names":["` + strings.Repeat("n", MaxRequestLine) + `"]}`, "exceeds 65536"},
	}
	for _, tc := range bad {
		_, err := DecodeRequest([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errProtocol) {
			t.Errorf("DecodeRequest(%.60q) = %v, want a bad-request error containing %q", tc.in, err, tc.want)
		}
		if err != nil && len(err.Error()) > 400 {
			t.Errorf("DecodeRequest(%.60q): error of %d bytes echoes too much input", tc.in, len(err.Error()))
		}
	}
}

func TestResponseErrorKinds(t *testing.T) {
	for _, k := range []api.ErrorKind{api.KindConfig, api.KindHostKey, api.KindAuth, api.KindNetwork, api.KindForward, api.KindInternal, "", "bogus"} {
		err := responseError(Response{ID: 1, Error: "boom", Kind: k})
		want := k
		if k.Sentinel() == nil {
			want = api.KindInternal
		}
		if api.KindOf(err) != want || err.Error() != "boom" {
			t.Errorf("kind %q: got %v of kind %q, want kind %q", k, err, api.KindOf(err), want)
		}
	}
	if err := responseError(Response{ID: 1}); err.Error() == "" {
		t.Error("an error answer without text gives an empty message")
	}
}

// FuzzDecodeRequest: DecodeRequest never panics, and what it accepts is a
// valid request that survives a round trip.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"op":"hello"}`,
		`{"id":2,"op":"start","names":["vps","lazy-db"]}`,
		`{"id":3,"op":"watch"}`,
		`{"id":4,"op":"stop","names":[]}`,
		`{"id":1e2,"op":"reconnect"}`,
		`{"id":1,"op":"start","names":["\u00e9\ud83d\ude00"]}`,
		`{"id":1,"op":"start","names":["\ud800"]}`,
		`[{"id":1}]`,
		`{"id":1,"op":"hello"}{`,
		"\xef\xbb\xbf{\"id\":1,\"op\":\"hello\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := DecodeRequest(line)
		if err != nil {
			if !errors.Is(err, errProtocol) {
				t.Fatalf("error %v does not wrap errProtocol", err)
			}
			return
		}
		if r.ID == 0 {
			t.Fatal("accepted id 0")
		}
		takes, known := r.Op.takesNames()
		if !known {
			t.Fatalf("accepted op %q", r.Op)
		}
		if !takes && len(r.Names) > 0 {
			t.Fatalf("accepted names on %s", r.Op)
		}
		if r.Names != nil && len(r.Names) == 0 {
			t.Fatal("empty names not normalised to nil")
		}
		for _, n := range r.Names {
			if n == "" || len(n) > MaxNameLen || !utf8.ValidString(n) {
				t.Fatalf("accepted name %q", n)
			}
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("re-encoded request %s rejected: %v", b, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed %+v into %+v", r, r2)
		}
	})
}
