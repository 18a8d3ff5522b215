// Package sandbox is the "run_javascript" tool: it runs a snippet of
// JavaScript a model wrote, with goja, and returns the value of its last
// expression (or what it passed to output()) and what it wrote with
// console.log. It exists so a model can compute — arithmetic, string and
// JSON manipulation — without the gateway trusting the code.
//
// A run must never reach anything outside its own interpreter: no
// network, no filesystem (source maps are disabled so a
// "sourceMappingURL" comment cannot make the parser read a file), no
// require or import, no timers, no Go object beyond the two text sinks
// behind console.log and output(). Every call gets a fresh runtime, so
// nothing one run does (prototype pollution, globals) is seen by the
// next. Runs are bounded in time, call depth, output size and, as far as
// goja allows, memory; see Sandbox for what those bounds can and cannot
// promise.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/tool"
)

// Name is the function name the model calls the sandbox by.
const Name = "run_javascript"

const (
	defaultTimeout  = 2 * time.Second
	defaultMemoryMB = 64
	// MaxOutput caps the text a run returns, console output included.
	MaxOutput = 64 << 10
	// maxCallStack bounds JavaScript call depth, so runaway recursion
	// ends as a RangeError instead of growing the VM's stack without
	// end. Calls through built-ins (e.g. a recursive Array.prototype.map
	// callback) also use the Go stack, which this depth keeps far below
	// Go's own limit.
	maxCallStack = 4096
	// maxBuiltinLength is the most elements or characters one call of
	// String.prototype.repeat/padStart/padEnd or Array.prototype.fill/join
	// or Array.from (array-like) may produce: these allocate in one Go
	// call the memory watchdog cannot interrupt.
	maxBuiltinLength = 1 << 23
	// sampleEvery is how often the watchdog samples the heap.
	sampleEvery = 5 * time.Millisecond
	// regexpTimeout bounds one regular-expression match. Matching is a
	// Go built-in that vm.Interrupt cannot stop, and goja's backtracking
	// engine (regexp2) would otherwise let /(a+)+$/ run for ever.
	regexpTimeout = time.Second
)

func init() {
	// regexp2 reads this when goja compiles a pattern; setting it once,
	// before any VM exists, is race-free. goja treats a timed-out match
	// as no match. The sandbox is the only user of goja in Causeway.
	regexp2.DefaultMatchTimeout = regexpTimeout
}

const parameters = `{"type":"object","properties":{"code":{"type":"string","description":"JavaScript to run; the value of the last expression, or what is passed to output(), is returned"}},"required":["code"]}`

// Sandbox runs JavaScript for a model. It is safe for concurrent use;
// calls share nothing.
//
// Its limits, and how far they hold:
//
//   - Time: a timer interrupts the VM (vm.Interrupt) after the configured
//     timeout. The timer measures wall-clock time, not CPU time, so a
//     busy host shortens a run's effective budget. An interrupt takes
//     effect at the next JavaScript instruction; a single built-in call
//     (a huge Array.prototype.fill, String.prototype.repeat, JSON.parse)
//     runs to its end first. Call waits for the run to stop for at most
//     another timeout, then returns the limit error anyway; the run's
//     goroutine ends by itself as soon as the built-in returns.
//   - Memory: goja has no allocation hook, so the cap is approximate. A
//     watchdog samples the process heap (runtime/metrics) every few
//     milliseconds; when it has grown by more than the limit since the run
//     started, it forces a garbage collection and, if the live heap is
//     still more than the limit above the start, interrupts the run. The
//     heap is the process's, so concurrent runs and other requests count
//     toward the growth a run is charged with: under heavy concurrent
//     load a run can be stopped early. A single built-in call can
//     allocate far beyond the limit before the watchdog can act. The
//     obvious ones (String.prototype.repeat/padStart/padEnd,
//     Array.prototype.fill/join, Array.from of an array-like) refuse
//     results over maxBuiltinLength elements before allocating, but
//     others remain (joining many copies of a long string, a huge
//     JSON.stringify); only a separate process with an OS memory limit
//     would close that hole.
//   - Stack: call depth is capped (maxCallStack); exceeding it is a
//     RangeError that JavaScript cannot catch.
//   - Output: console output and the result together are cut at
//     MaxOutput bytes.
type Sandbox struct {
	timeout time.Duration
	memory  uint64
}

var _ tool.Tool = (*Sandbox)(nil)

// New returns the sandbox tool configured by cfg; zero fields take their
// defaults (2s, 64 MiB).
func New(cfg config.Sandbox) *Sandbox {
	s := &Sandbox{timeout: cfg.Timeout.Std(), memory: uint64(cfg.MemoryMB) << 20}
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	if cfg.MemoryMB <= 0 {
		s.memory = defaultMemoryMB << 20
	}
	return s
}

// Name implements tool.Tool.
func (s *Sandbox) Name() string { return Name }

// Description implements tool.Tool.
func (s *Sandbox) Description() string {
	return "Runs JavaScript (modern ECMAScript, no modules) in an isolated interpreter and returns " +
		"the value of the last expression as JSON, or the value passed to output(x). console.log output " +
		"is returned too. There is no network, no filesystem, no require/import and no timers; runs are " +
		"limited to " + s.timeout.String() + " and about " + fmt.Sprint(s.memory>>20) + " MiB."
}

// Parameters implements tool.Tool.
func (s *Sandbox) Parameters() json.RawMessage { return json.RawMessage(parameters) }

// Call implements tool.Tool. Bad arguments and failed runs are results
// with IsError; only a cancelled ctx is an error.
func (s *Sandbox) Call(ctx context.Context, c tool.Call) (tool.Result, error) {
	var args struct {
		Code *string `json:"code"`
	}
	if err := json.Unmarshal(c.Arguments, &args); err != nil || args.Code == nil {
		return tool.Result{IsError: true, Output: `Error: the arguments must be an object with a string "code"`}, nil
	}
	return s.Run(ctx, *args.Code)
}

// limitError is the value a run is interrupted with.
type limitError string

func (e limitError) Error() string { return string(e) }

var (
	errTime   = limitError("time limit exceeded")
	errMemory = limitError("memory limit exceeded")
)

// Run runs code in a fresh runtime and returns what the model sees.
func (s *Sandbox) Run(ctx context.Context, code string) (tool.Result, error) {
	if err := ctx.Err(); err != nil {
		return tool.Result{}, fmt.Errorf("%s: %w", Name, err)
	}
	r, err := newRun()
	if err != nil {
		return tool.Result{}, fmt.Errorf("%s: preparing the runtime: %w", Name, err)
	}
	heap := newHeapWatch(s.memory)
	done := make(chan tool.Result, 1)
	go func() { done <- r.execute(code) }()

	deadline := time.NewTimer(s.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()

	var reason error
	for reason == nil {
		select {
		case res := <-done:
			return res, nil
		case <-deadline.C:
			reason = errTime
		case <-ctx.Done():
			reason = ctx.Err()
		case <-tick.C:
			if heap.exceeded() {
				reason = errMemory
			}
		}
	}
	r.vm.Interrupt(reason)
	grace := time.NewTimer(s.timeout)
	defer grace.Stop()
	var res tool.Result
	select {
	case res = <-done:
	case <-grace.C:
		// Stuck in one built-in: report the limit; the goroutine ends
		// when the built-in returns and the interrupt takes effect.
		res = tool.Result{IsError: true, Output: "Error: " + reason.Error()}
	}
	if _, limit := reason.(limitError); !limit {
		return tool.Result{}, fmt.Errorf("%s: %w", Name, reason)
	}
	return res, nil
}

// prelude builds the only globals a run adds to ECMAScript's: console
// and output. The Go sinks are reachable only through these closures and
// take strings, so no Go value is ever exposed to the script. describe
// captures JSON.stringify and String before user code can replace them.
const prelude = `(function (sink, setResult, maxLength) {
  'use strict';
  const stringify = JSON.stringify, toStr = String, apply = Reflect.apply, define = Object.defineProperty;
  // Built-ins that build a large string or array in one uninterruptible
  // call refuse results beyond maxLength elements or characters, before
  // they allocate.
  function guard(proto, name, size) {
    const original = proto[name];
    define(proto, name, {writable: true, configurable: true, value: {[name](...args) {
      if (size(this, args) > maxLength) throw new RangeError(name + ': result too large for the sandbox');
      return apply(original, this, args);
    }}[name]});
  }
  const len = v => { const n = Number(v); return n > 0 ? n : 0; };
  guard(String.prototype, 'repeat', (s, a) => toStr(s).length * len(a[0]));
  guard(String.prototype, 'padStart', (s, a) => len(a[0]));
  guard(String.prototype, 'padEnd', (s, a) => len(a[0]));
  guard(Array.prototype, 'fill', s => len(s.length));
  guard(Array.prototype, 'join', (s, a) => len(s.length) * (a[0] === undefined ? 1 : toStr(a[0]).length + 1));
  guard(Array, 'from', (s, a) => a[0] != null && typeof a[0] === 'object' && !(Symbol.iterator in a[0]) ? len(a[0].length) : 0);
  function describe(v) {
    if (typeof v === 'string') return v;
    if (v === undefined) return 'undefined';
    let s;
    try { s = stringify(v); } catch (e) { s = undefined; }
    return s === undefined ? toStr(v) : s;
  }
  function failure(e) {
    try {
      if (e !== null && typeof e === 'object' && typeof e.message === 'string') {
        const name = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
        return name === 'Error' ? e.message : name + ': ' + e.message;
      }
      return describe(e);
    } catch (_) {
      return 'uncaught exception';
    }
  }
  function log() {
    let line = '';
    for (let i = 0; i < arguments.length; i++) line += (i ? ' ' : '') + describe(arguments[i]);
    sink(line);
  }
  const console = {log: log, info: log, warn: log, error: log, debug: log};
  function output(v) { setResult(v); }
  return {console: console, output: output, describe: describe, failure: failure};
})`

// run is one execution: a fresh VM and what it has written. Everything
// but vm.Interrupt happens on the run's own goroutine, so it needs no
// lock.
type run struct {
	vm       *goja.Runtime
	describe goja.Callable
	failure  goja.Callable

	logs      strings.Builder
	truncated bool
	result    goja.Value
	hasResult bool
}

func newRun() (*run, error) {
	vm := goja.New()
	vm.SetParserOptions(parser.WithDisableSourceMaps)
	vm.SetMaxCallStackSize(maxCallStack)
	r := &run{vm: vm}
	v, err := vm.RunString(prelude)
	if err != nil {
		return nil, err
	}
	factory, ok := goja.AssertFunction(v)
	if !ok {
		return nil, errors.New("prelude is not a function")
	}
	sink := vm.ToValue(func(call goja.FunctionCall) goja.Value {
		r.write(call.Argument(0).String())
		return goja.Undefined()
	})
	setResult := vm.ToValue(func(call goja.FunctionCall) goja.Value {
		r.result, r.hasResult = call.Argument(0), true
		return goja.Undefined()
	})
	api, err := factory(goja.Undefined(), sink, setResult, vm.ToValue(maxBuiltinLength))
	if err != nil {
		return nil, err
	}
	obj := api.ToObject(vm)
	if r.describe, ok = goja.AssertFunction(obj.Get("describe")); !ok {
		return nil, errors.New("prelude gave no describe")
	}
	if r.failure, ok = goja.AssertFunction(obj.Get("failure")); !ok {
		return nil, errors.New("prelude gave no failure")
	}
	for _, name := range []string{"console", "output"} {
		if err := vm.Set(name, obj.Get(name)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// write appends one console line, up to MaxOutput.
func (r *run) write(line string) {
	if r.truncated {
		return
	}
	if r.logs.Len()+len(line)+1 > MaxOutput {
		r.truncated = true
		return
	}
	r.logs.WriteString(line)
	r.logs.WriteByte('\n')
}

// execute runs code and renders the outcome. It runs on its own
// goroutine; everything that can run user code (toJSON, toString,
// getters) happens here, inside the time and memory limits.
func (r *run) execute(code string) (res tool.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = tool.Result{IsError: true, Output: "Error: internal error in the sandbox"}
		}
	}()
	v, err := r.vm.RunString(code)
	if err != nil {
		return r.fail(err)
	}
	if r.hasResult {
		v = r.result
	}
	if v == nil {
		v = goja.Undefined()
	}
	text, err := r.describe(goja.Undefined(), v)
	if err != nil {
		return r.fail(err)
	}
	return tool.Result{Output: r.compose(text.String(), "")}
}

// fail renders a run that ended with err.
func (r *run) fail(err error) tool.Result {
	var msg string
	var interrupted *goja.InterruptedError
	var overflow *goja.StackOverflowError
	var exception *goja.Exception
	switch {
	case errors.As(err, &interrupted):
		msg = fmt.Sprint(interrupted.Value())
	case errors.As(err, &overflow):
		msg = "RangeError: maximum call stack size exceeded"
	case errors.As(err, &exception):
		msg = exception.Error()
		if v, ferr := r.failure(goja.Undefined(), exception.Value()); ferr == nil {
			msg = v.String()
		}
	default:
		msg = err.Error()
	}
	return tool.Result{IsError: true, Output: r.compose("", "Error: "+msg)}
}

// compose joins console output and the result (or error) into the text
// the model sees, cut at MaxOutput.
func (r *run) compose(result, failure string) string {
	logs, truncated := r.logs.String(), r.truncated
	var b strings.Builder
	if failure != "" {
		b.WriteString(failure)
		if logs != "" {
			b.WriteString("\nconsole output before the error:\n")
			b.WriteString(logs)
		}
	} else {
		b.WriteString(logs)
		if logs == "" || result != "undefined" {
			b.WriteString(result)
		}
	}
	out := b.String()
	if truncated || len(out) > MaxOutput {
		out = cut(out, MaxOutput) + "\n[output truncated at 64 KiB]"
	}
	return strings.TrimSuffix(out, "\n")
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// heapWatch tells when the process heap has grown by more than limit
// since it was created.
type heapWatch struct {
	limit   uint64
	base    uint64 // heap objects (live and not yet swept) at the start
	trigger uint64 // objects above which a collection is forced to check
	samples []metrics.Sample
}

const (
	heapObjects = "/memory/classes/heap/objects:bytes"
	heapLive    = "/gc/heap/live:bytes"
)

func newHeapWatch(limit uint64) *heapWatch {
	h := &heapWatch{limit: limit, samples: []metrics.Sample{{Name: heapObjects}, {Name: heapLive}}}
	h.base = h.read(0)
	h.trigger = h.base + limit
	return h
}

func (h *heapWatch) read(i int) uint64 {
	metrics.Read(h.samples)
	if h.samples[i].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return h.samples[i].Value.Uint64()
}

// exceeded is cheap until the heap (garbage included) passes the
// trigger; then it collects and compares the live heap, so a run that
// churns garbage is not mistaken for one that holds memory. After a
// collection that clears the run, the next one is forced only after
// another limit's worth of allocation.
func (h *heapWatch) exceeded() bool {
	if h.read(0) <= h.trigger {
		return false
	}
	runtime.GC()
	if live := h.read(1); live > h.base+h.limit {
		return true
	}
	h.trigger = h.read(0) + h.limit
	return false
}
