package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// expand substitutes environment references in a configuration file
// before it is parsed as YAML:
//
//	${VAR}           the value of VAR; an error if VAR is not set (set
//	                 but empty is fine, and gives "")
//	${VAR:-default}  the value of VAR, or default if VAR is unset or
//	                 empty; default is taken literally up to the first "}"
//	$$               a literal "$"
//
// Any other "$" is kept as it is. Lines whose first non-blank character
// is "#" are YAML comments and are copied untouched, so a commented-out
// line may name a variable that is not set.
//
// Substitution is textual: a value is read as if it had been typed in
// its place, so quote the reference ("${VAR}") when the value may hold
// YAML syntax such as ": " or " #". A value holding a line break is an
// error: it would silently add lines (and keys) to the file.
func expand(data []byte, getenv func(string) (string, bool)) ([]byte, error) {
	if bytes.IndexByte(data, '$') < 0 {
		return data, nil
	}
	var (
		out  bytes.Buffer
		errs []error
	)
	out.Grow(len(data))
	lineNo := 0
	for line := range bytes.Lines(data) {
		lineNo++
		if isComment(line) || bytes.IndexByte(line, '$') < 0 {
			out.Write(line)
			continue
		}
		if err := expandLine(&out, string(line), lineNo, getenv); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out.Bytes(), nil
}

func isComment(line []byte) bool {
	t := bytes.TrimLeft(line, " \t")
	return len(t) > 0 && t[0] == '#'
}

// expandLine writes line to out with its references substituted.
func expandLine(out *bytes.Buffer, line string, lineNo int, getenv func(string) (string, bool)) error {
	var errs []error
	for {
		i := strings.IndexByte(line, '$')
		if i < 0 || i == len(line)-1 {
			out.WriteString(line)
			break
		}
		out.WriteString(line[:i])
		switch line[i+1] {
		case '$':
			out.WriteByte('$')
			line = line[i+2:]
			continue
		case '{':
		default:
			out.WriteByte('$')
			line = line[i+1:]
			continue
		}
		end := strings.IndexByte(line[i:], '}')
		if end < 0 {
			errs = append(errs, fmt.Errorf("line %d: unterminated %q: want ${VAR} or ${VAR:-default}", lineNo, strings.TrimRight(line[i:], "\r\n")))
			line = "" // the rest of the line is unusable
			break
		}
		ref := line[i+2 : i+end] // between "${" and "}"
		line = line[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			errs = append(errs, fmt.Errorf("line %d: ${%s}: %q is not a valid variable name (letters, digits and _, not starting with a digit)", lineNo, ref, name))
			continue
		}
		val, set := getenv(name)
		switch {
		case hasDef && val == "":
			val = def
		case !set:
			errs = append(errs, fmt.Errorf("line %d: environment variable %s is not set (set it, or give a default with ${%s:-value})", lineNo, name, name))
			continue
		}
		if strings.ContainsAny(val, "\r\n") {
			errs = append(errs, fmt.Errorf("line %d: the value of ${%s} contains a line break", lineNo, name))
			continue
		}
		out.WriteString(val)
	}
	return errors.Join(errs...)
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
