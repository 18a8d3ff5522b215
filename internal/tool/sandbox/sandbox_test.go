package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/tool"
	"github.com/causeway-ai/causeway/internal/tool/sandbox"
)

func call(t *testing.T, s *sandbox.Sandbox, code string) tool.Result {
	t.Helper()
	args, err := json.Marshal(map[string]string{"code": code})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Call(t.Context(), tool.Call{Arguments: args})
	if err != nil {
		t.Fatalf("Call(%q): %v", code, err)
	}
	return res
}

// newSandbox has a long time limit, so outcomes other than the time
// limit do not depend on how fast the test machine is.
func newSandbox() *sandbox.Sandbox {
	return sandbox.New(config.Sandbox{Enabled: true, Timeout: config.Duration(time.Minute)})
}

func TestDefinition(t *testing.T) {
	s := newSandbox()
	if s.Name() != "run_javascript" {
		t.Errorf("Name() = %q, want run_javascript", s.Name())
	}
	var schema struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(s.Parameters(), &schema); err != nil {
		t.Fatalf("Parameters() is not JSON: %v", err)
	}
	if schema.Type != "object" || schema.Properties["code"] == nil || len(schema.Required) != 1 || schema.Required[0] != "code" {
		t.Errorf("Parameters() = %s, want an object schema requiring code", s.Parameters())
	}
	if s.Description() == "" {
		t.Error("Description() is empty")
	}
}

func TestResults(t *testing.T) {
	s := newSandbox()
	for _, tc := range []struct{ name, code, want string }{
		{"arithmetic", "1 + 2 * 3", "7"},
		{"float", "0.1 + 0.2", "0.30000000000000004"},
		{"string is raw", "'a' + 'b'", "ab"},
		{"object as JSON", "({a: 1, b: [true, null, 'x']})", `{"a":1,"b":[true,null,"x"]}`},
		{"JSON round trip", `JSON.parse('{"n": 41}').n + 1`, "42"},
		{"array methods", "[3, 1, 2].sort().map(x => x * 2)", "[2,4,6]"},
		{"undefined", "let x = 1;", "undefined"},
		{"function falls back to String", "(function f() {})", "function f() {}"},
		{"bigint falls back to String", "10n ** 20n", "100000000000000000000"},
		{"output overrides last value", "output({ok: true}); 5", `{"ok":true}`},
		{"last output wins", "output(1); output(2); 'ignored'", "2"},
		{"console.log then result", "console.log('hi', 1, {a: 2}); 3", "hi 1 {\"a\":2}\n3"},
		{"console.log alone", "console.log('only')", "only"},
		{"console.error too", "console.error('e'); console.info('i'); undefined", "e\ni"},
		{"promises settle", "let v; Promise.resolve(4).then(x => { v = x; output(v) }); 0", "4"},
		{"regexp", "'a1b22'.replace(/\\d+/g, '#')", "a#b#"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, s, tc.code)
			if res.IsError || res.Output != tc.want {
				t.Errorf("run %q = %+v, want Output %q", tc.code, res, tc.want)
			}
		})
	}
}

func TestExceptions(t *testing.T) {
	s := newSandbox()
	for _, tc := range []struct{ name, code, want string }{
		{"Error", "throw new Error('boom')", "Error: boom"},
		{"TypeError", "null.x", "Error: TypeError: "},
		{"ReferenceError", "nope()", "Error: ReferenceError: nope is not defined"},
		{"thrown string", "throw 'plain'", "Error: plain"},
		{"thrown object", "throw {code: 7}", `Error: {"code":7}`},
		{"syntax error", "let = ;", "Error: SyntaxError"},
		{"hostile toString", "throw {get message() { throw 1 }}", "Error: uncaught exception"},
		{"console before error", "console.log('step 1'); throw new RangeError('bad')", "Error: RangeError: bad\nconsole output before the error:\nstep 1"},
		{"throwing toJSON", "({toJSON() { throw new Error('no json') }, toString() { throw new Error('no string') }})", "Error: no string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, s, tc.code)
			if !res.IsError || !strings.HasPrefix(res.Output, tc.want) {
				t.Errorf("run %q = %+v, want IsError with Output starting %q", tc.code, res, tc.want)
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	s := newSandbox()
	for _, args := range []string{`{}`, `{"code": 5}`, `not json`, `null`} {
		res, err := s.Call(t.Context(), tool.Call{Arguments: json.RawMessage(args)})
		if err != nil || !res.IsError || !strings.Contains(res.Output, `"code"`) {
			t.Errorf("Call(%s) = %+v, %v; want an IsError result naming code", args, res, err)
		}
	}
}

func TestInfiniteLoopIsStopped(t *testing.T) {
	s := sandbox.New(config.Sandbox{Timeout: config.Duration(200 * time.Millisecond)})
	for _, code := range []string{
		"while (true) {}",
		"for (;;) { try { while (true) {} } catch (e) {} finally { continue } }",
		"({toJSON() { while (true) {} }})",
		"console.log({toJSON() { for (;;) {} }})",
		"(async () => { for (;;) await null })(); 1",
	} {
		res := call(t, s, code)
		if !res.IsError || res.Output != "Error: time limit exceeded" {
			t.Errorf("run %q = %+v, want the time limit error", code, res)
		}
	}
}

func TestCatastrophicRegexpEnds(t *testing.T) {
	// A backtracking match is one built-in call, out of vm.Interrupt's
	// reach; the regexp engine's own timeout ends it, as no match. The
	// lookahead makes goja use its backtracking engine (regexp2), and the
	// long time limit makes the regexp timeout the only way out: without
	// it the run would end only with the time limit error.
	s := sandbox.New(config.Sandbox{Timeout: config.Duration(time.Minute)})
	res := call(t, s, "/^(a+)+(?!a)b$/.test('a'.repeat(40) + 'c')")
	if res.IsError || res.Output != "false" {
		t.Errorf("catastrophic regexp = %+v, want false", res)
	}
}

func TestDeepRecursionIsStopped(t *testing.T) {
	s := newSandbox()
	for _, code := range []string{
		"function f(n) { return f(n + 1) + 1 } f(0)",
		"function g() { try { return g() } catch (e) { return g() } } g()",
		"[0].map(function h() { return [0].map(h) })",
		"const o = {}; o.toString = function () { return String(o) }; String(o)",
	} {
		res := call(t, s, code)
		if !res.IsError || !strings.Contains(res.Output, "maximum call stack size exceeded") {
			t.Errorf("run %q = %+v, want the call stack error", code, res)
		}
	}
}

func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestHugeAllocationIsStopped(t *testing.T) {
	s := sandbox.New(config.Sandbox{MemoryMB: 64, Timeout: config.Duration(time.Minute)})
	before := liveHeap()
	res := call(t, s, "let a = []; while (true) a.push(new Array(1e6).fill(1))")
	if !res.IsError || res.Output != "Error: memory limit exceeded" {
		t.Fatalf("huge allocation = %+v, want the memory limit error", res)
	}
	// The process is healthy: the run's memory is garbage, and the next
	// run works.
	if after := liveHeap(); after > before+32<<20 {
		t.Errorf("live heap after the run = %d MiB, was %d MiB before; the run's memory was not released", after>>20, before>>20)
	}
	if res := call(t, s, "[1, 2, 3].reduce((a, b) => a + b)"); res.IsError || res.Output != "6" {
		t.Errorf("run after the memory error = %+v, want 6", res)
	}
}

func TestHugeBuiltinResultsAreRefused(t *testing.T) {
	// These would allocate gigabytes inside one Go call, where neither
	// the time limit nor the memory watchdog can stop them.
	s := newSandbox()
	for _, code := range []string{
		"'x'.repeat(1e9)",
		"'ab'.repeat(2 ** 23)",
		"''.padStart(1e9, 'y')",
		"''.padEnd(1e9)",
		"new Array(1e9).fill(0)",
		"Array.prototype.fill.call({length: 1e9}, 1)",
		"new Array(1e9).join(',')",
		"Array.from({length: 1e9})",
	} {
		res := call(t, s, code)
		if !res.IsError || !strings.Contains(res.Output, "too large for the sandbox") {
			t.Errorf("run %q = %+v, want a RangeError refusing the result", code, res)
		}
	}
	for code, want := range map[string]string{
		"'ab'.repeat(3)": "ababab",
		"'7'.padStart(3, '0') + '7'.padEnd(3, '.')":   "0077..",
		"new Array(3).fill(7)":                        "[7,7,7]",
		"[1, 2, 3].join('-') + [4].join()":            "1-2-34",
		"Array.from({length: 3}, (_, i) => i * 2)":    "[0,2,4]",
		"Array.from('abc')":                           `["a","b","c"]`,
		"String.prototype.repeat.name + [].fill.name": "repeatfill",
	} {
		if res := call(t, s, code); res.IsError || res.Output != want {
			t.Errorf("run %q = %+v, want %q", code, res, want)
		}
	}
}

func TestGarbageIsNotChargedAsMemory(t *testing.T) {
	// Allocates about three times the limit in total but holds at most a couple
	// of 16 MB arrays at once.
	s := sandbox.New(config.Sandbox{MemoryMB: 64, Timeout: config.Duration(time.Minute)})
	res := call(t, s, "let n = 0; for (let i = 0; i < 10; i++) { n += new Array(1e6).fill(1).length } n")
	if res.IsError || res.Output != "10000000" {
		t.Errorf("garbage-churning run = %+v, want 10000000", res)
	}
}

func TestOutputIsCapped(t *testing.T) {
	s := newSandbox()
	for _, code := range []string{
		"'x'.repeat(1 << 20)",
		"for (let i = 0; i < 1e5; i++) console.log('line', i); 'end'",
		"output('é'.repeat(1 << 17))",
	} {
		res := call(t, s, code)
		if len(res.Output) > sandbox.MaxOutput+100 || !strings.HasSuffix(res.Output, "[output truncated at 64 KiB]") {
			t.Errorf("run %q: Output is %d bytes ending %q, want at most ~%d bytes marked truncated", code, len(res.Output), res.Output[max(0, len(res.Output)-40):], sandbox.MaxOutput)
		}
		if !json.Valid([]byte(mustJSON(t, res.Output))) {
			t.Errorf("run %q: Output is not valid UTF-8", code)
		}
	}
}

func mustJSON(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `\ufffd`) {
		return "invalid"
	}
	return string(b)
}

func TestNoEscape(t *testing.T) {
	s := newSandbox()
	for _, name := range []string{
		"require", "process", "fetch", "XMLHttpRequest", "WebSocket", "setTimeout", "setInterval",
		"setImmediate", "queueMicrotask", "module", "exports", "Deno", "Bun", "global", "os", "fs",
	} {
		if res := call(t, s, "typeof "+name); res.Output != "undefined" {
			t.Errorf("typeof %s = %+v, want undefined", name, res)
		}
	}
	for _, tc := range []struct{ name, code, want string }{
		// The global object reached through the Function constructor is
		// the script's own, holding only ECMAScript's built-ins and ours.
		{"Function constructor", "const g = this.constructor.constructor('return this')(); Object.keys(g).sort().join(',')", "console,output"},
		{"global through output", "output.constructor('return typeof require + typeof process')()", "undefinedundefined"},
		{"own names are ECMAScript's", `Object.getOwnPropertyNames(globalThis).filter(n => !/^[A-Z]/.test(n)).sort().join(',')`,
			"console,decodeURI,decodeURIComponent,encodeURI,encodeURIComponent,escape,eval,globalThis,isFinite,isNaN,output,parseFloat,parseInt,undefined,unescape"},
		{"sinks are opaque", "typeof output.toString() + Object.keys(console).join(',')", "stringlog,info,warn,error,debug"},
		{"eval is confined", "eval('typeof require')", "undefined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := call(t, s, tc.code); res.IsError || res.Output != tc.want {
				t.Errorf("run %q = %+v, want %q", tc.code, res, tc.want)
			}
		})
	}
	for _, code := range []string{"import('fs')", "import fs from 'fs'", "require('fs')", "fetch('http://127.0.0.1/')"} {
		if res := call(t, s, code); !res.IsError {
			t.Errorf("run %q = %+v, want an error", code, res)
		}
	}
}

func TestSourceMapCommentReadsNoFile(t *testing.T) {
	// goja's parser would read a "sourceMappingURL" file from disk and
	// use it to rename stack frames; the sandbox disables source maps.
	path := filepath.Join(t.TempDir(), "x.map")
	sm := `{"version":3,"file":"x.js","sources":["LEAKED.js"],"names":[],"mappings":"AAAA;AACA,YAAY"}`
	if err := os.WriteFile(path, []byte(sm), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "let s;\ntry { null.x } catch (e) { s = e.stack }\noutput(s)\n//# sourceMappingURL=file://" + filepath.ToSlash(path)
	quoted, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{src, "eval(" + string(quoted) + ")", "new Function(" + string(quoted) + ")()"} {
		res := call(t, newSandbox(), code)
		if strings.Contains(res.Output, "LEAKED") {
			t.Errorf("run %q = %+v; the source map file was read", code, res)
		}
	}
}

func TestFreshRuntimePerCall(t *testing.T) {
	s := newSandbox()
	call(t, s, "Object.prototype.polluted = 1; Array.prototype.map = null; globalThis.leak = 'x'; JSON.stringify = () => 'hijacked'; console.log = null; 'ok'")
	res := call(t, s, "console.log(typeof ({}).polluted, typeof [].map, typeof leak); ({a: 1})")
	if want := "undefined function undefined\n{\"a\":1}"; res.IsError || res.Output != want {
		t.Errorf("run after pollution = %+v, want %q", res, want)
	}
	// Replacing JSON.stringify inside a run does not change how that run's
	// result is rendered.
	if res := call(t, s, "JSON.stringify = () => 'hijacked'; [1]"); res.Output != "[1]" {
		t.Errorf("run with replaced JSON.stringify = %+v, want [1]", res)
	}
}

func TestConcurrentCallsAreIndependent(t *testing.T) {
	s := newSandbox()
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := range 16 {
		wg.Go(func() {
			code := "globalThis.n = (globalThis.n || 0) + " + string(rune('0'+i%10)) + "; n"
			args, _ := json.Marshal(map[string]string{"code": code})
			res, err := s.Call(context.Background(), tool.Call{Arguments: args})
			if want := string(rune('0' + i%10)); err != nil || res.Output != want {
				errs <- code + " = " + res.Output + ", want " + want
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestCancelledContext(t *testing.T) {
	s := newSandbox()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	args, _ := json.Marshal(map[string]string{"code": "1"})
	if _, err := s.Call(ctx, tool.Call{Arguments: args}); !errors.Is(err, context.Canceled) {
		t.Errorf("Call with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		"1+1", "while(true){}", "function f(){f()} f()", "throw 1", "console.log('x')", "output({a:[1,2]})",
		"let a=[]; while(true) a.push(new Array(1e5).fill(1))", "/(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaab')",
		"this.constructor.constructor('return this')()", "import('x')", "`${", "\x00", "({toJSON(){return this}})",
	} {
		f.Add(seed)
	}
	s := sandbox.New(config.Sandbox{Timeout: config.Duration(100 * time.Millisecond), MemoryMB: 64})
	f.Fuzz(func(t *testing.T, code string) {
		res, err := s.Run(t.Context(), code)
		if err != nil {
			t.Fatalf("Run(%q): %v", code, err)
		}
		if len(res.Output) > sandbox.MaxOutput+100 {
			t.Fatalf("Run(%q): Output is %d bytes, over the cap", code, len(res.Output))
		}
	})
}
