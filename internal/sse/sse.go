// Package sse reads and writes Server-Sent Events as the model APIs use
// them. The reader is strict about size (a line over the limit is an error,
// never an unbounded buffer) and tolerant of the variations upstreams send
// (CRLF, missing space after the colon, comments, multi-line data).
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrLineTooLong is returned when an event line exceeds the reader's limit.
var ErrLineTooLong = errors.New("sse: line too long")

// Event is one dispatched event. Data is valid until the next call to Next.
type Event struct {
	Name string
	Data []byte
	ID   string
}

// Reader reads events from a stream.
type Reader struct {
	br   *bufio.Reader
	max  int
	data []byte
	name []byte
	line []byte
}

// NewReader returns a Reader whose lines may be at most maxLine bytes.
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = 4 << 20
	}
	return &Reader{br: bufio.NewReaderSize(r, 16<<10), max: maxLine}
}

// Next returns the next event. It returns io.EOF at a clean end of stream
// and io.ErrUnexpectedEOF if the stream ends inside an event.
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.name = r.name[:0]
	var id string
	var haveData, inEvent bool
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && inEvent {
				if haveData {
					// A final event without its blank line: deliver it,
					// as browsers do not, but upstreams that close right
					// after the last data line are common.
					return Event{Name: string(r.name), Data: r.data, ID: id}, nil
				}
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if haveData {
				return Event{Name: string(r.name), Data: r.data, ID: id}, nil
			}
			r.name = r.name[:0]
			inEvent = false
			continue
		}
		inEvent = true
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if haveData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			haveData = true
		case "event":
			r.name = append(r.name[:0], value...)
		case "id":
			id = string(value)
		}
	}
}

// Buffered returns the number of bytes read from the stream but not yet
// returned as events.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// readLine returns one line without its terminator (LF, CRLF or CR-less).
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if len(r.line) > r.max {
			return nil, ErrLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(r.line) > 0 {
				return trimEOL(r.line), nil
			}
			return nil, err
		}
		return trimEOL(r.line), nil
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// AppendData appends a "data: ...\n\n" event to dst. payload must not
// contain newlines (JSON from encoding/json never does).
func AppendData(dst, payload []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, payload...)
	return append(dst, '\n', '\n')
}

// AppendEvent appends a named event to dst.
func AppendEvent(dst []byte, name string, payload []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, '\n')
	return AppendData(dst, payload)
}
