package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runFloor is the floor: a bare pass-through reverse proxy, one extra
// loopback hop and nothing else — no parsing, no auth, no metering. It
// runs in its own process (this binary re-executed with -floor-proxy) so
// that its CPU time can be read from /proc like the gateway's.
func runFloor(listen, upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("floor: bad -upstream %q", upstream)
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no global cap
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport:     transport,
		FlushInterval: -1, // flush every write: streams pass through as they come
	}
	// Full duplex: without it, net/http's HTTP/1 server drains and closes
	// the request body as soon as the response headers are flushed, and
	// the Transport's final read of the body (checking it is not longer
	// than its Content-Length) then fails and tears down the upstream
	// connection mid-stream (golang/go#40747) — a few percent of fast
	// streams cut with "unexpected EOF".
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
