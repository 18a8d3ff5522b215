package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string) ([]Event, error) {
	t.Helper()
	r := NewReader(strings.NewReader(in), 64)
	var out []Event
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		ev.Data = append([]byte(nil), ev.Data...)
		out = append(out, ev)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "name|data"
		err  error
	}{
		{"basic", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{`|{"a":1}`, "|[DONE]"}, nil},
		{"crlf and no space", "data:x\r\n\r\n", []string{"|x"}, nil},
		{"named", "event: message_start\ndata: {}\n\n", []string{"message_start|{}"}, nil},
		{"comment and blank", ": ping\n\n\ndata: y\n\n", []string{"|y"}, nil},
		{"multiline", "data: a\ndata: b\n\n", []string{"|a\nb"}, nil},
		{"no trailing blank", "data: last", []string{"|last"}, nil},
		{"event without data", "event: x\n\n", nil, nil},
		{"too long", "data: " + strings.Repeat("x", 100) + "\n\n", nil, ErrLineTooLong},
		{"cut inside event", "event: x\n", nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := readAll(t, tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, e.Name+"|"+string(e.Data))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	got := string(AppendEvent(AppendData(nil, []byte("1")), "e", []byte("2")))
	if want := "data: 1\n\nevent: e\ndata: 2\n\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func FuzzReader(f *testing.F) {
	f.Add("data: {\"a\":1}\n\ndata: [DONE]\n\n")
	f.Add("event: x\r\ndata:y\r\n\r\n: c\n")
	f.Add("data: a\ndata: b\n")
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(strings.NewReader(in), 256)
		for range 10000 {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if len(ev.Data) > len(in) {
				t.Fatalf("data longer than input")
			}
		}
		t.Fatal("reader did not terminate")
	})
}
