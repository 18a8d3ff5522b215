// Package netguard is an HTTP client for server-side tools that cannot be
// turned against the network it runs in (SSRF): it dials only public
// addresses, checking the IP actually connected to (so DNS rebinding
// cannot bypass it), refuses ambiguous numeric host spellings, ignores
// proxy settings, allows only http and https, and re-checks every
// redirect (at most three). Hosts named in an allow-list are the only way
// past the rules.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a request may follow.
const MaxRedirects = 3

// ErrDenied is wrapped by every refusal.
var ErrDenied = errors.New("destination not allowed")

// Guard decides which destinations may be reached.
type Guard struct {
	allow map[string]bool // lower-case host, or host:port
}

// New returns a guard that lets through, besides public addresses, the
// hosts (exact host, or host:port) in allowHosts.
func New(allowHosts []string) *Guard {
	g := &Guard{allow: map[string]bool{}}
	for _, h := range allowHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" {
			g.allow[strings.Trim(h, "[]")] = true
			g.allow[h] = true
		}
	}
	return g
}

// Allowed reports whether host (as written in a URL, without brackets)
// and port are on the allow-list.
func (g *Guard) Allowed(host, port string) bool {
	host = strings.ToLower(host)
	return g.allow[host] || g.allow[net.JoinHostPort(host, port)]
}

var denied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/96"),           // unspecified, loopback, IPv4-compatible
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("fec0::/10"),       // site-local
	netip.MustParsePrefix("ff00::/8"),        // multicast
}

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixto4 = netip.MustParsePrefix("2002::/16")
)

// PublicIP reports whether ip is a public unicast address a tool may
// reach. IPv4-mapped, NAT64 and 6to4 addresses are judged by the IPv4
// address they carry.
func PublicIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return PublicIP(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixto4.Contains(ip):
			return PublicIP(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	if ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range denied {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// numericHost reports whether host is a numeric IPv4 spelling other than
// the canonical dotted quad (2130706433, 0x7f000001, 017700000001, 127.1,
// 0x7f.0.0.1): resolvers disagree on these, so they are refused.
func numericHost(host string) bool {
	if host == "" {
		return false
	}
	for _, part := range strings.Split(host, ".") {
		if part == "" {
			return false
		}
		p := strings.ToLower(part)
		switch {
		case strings.HasPrefix(p, "0x"):
			if _, err := strconv.ParseUint(p[2:], 16, 64); err != nil && p != "0x" {
				return false
			}
		default:
			if _, err := strconv.ParseUint(p, 10, 64); err != nil {
				return false
			}
		}
	}
	return true
}

// CheckHost refuses a URL host (without brackets) that no dial should be
// attempted for: empty, or an ambiguous numeric spelling. Literal IPs are
// checked here too, so a refused literal never reaches the dialer.
func (g *Guard) CheckHost(host, port string) error {
	if g.Allowed(host, port) {
		return nil
	}
	if host == "" {
		return fmt.Errorf("netguard: empty host: %w", ErrDenied)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !PublicIP(ip) {
			return fmt.Errorf("netguard: %s is not a public address: %w", host, ErrDenied)
		}
		return nil
	}
	if numericHost(host) {
		return fmt.Errorf("netguard: ambiguous numeric host %q: %w", host, ErrDenied)
	}
	return nil
}

// control checks the address a socket is about to connect to.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: unparsable address %q: %w", address, ErrDenied)
	}
	if !PublicIP(ap.Addr()) {
		return fmt.Errorf("netguard: %s is not a public address: %w", ap.Addr(), ErrDenied)
	}
	return nil
}

// DialContext dials addr ("host:port" as in the URL), refusing any
// destination that is not public unless its host is allow-listed.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !g.Allowed(host, port) {
		if err := g.CheckHost(host, port); err != nil {
			return nil, err
		}
		d.Control = control
	}
	return d.DialContext(ctx, network, addr)
}

// CheckURL refuses schemes other than http and https and hosts that
// CheckHost refuses.
func (g *Guard) CheckURL(scheme, host, port string) error {
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("netguard: scheme %q: %w", scheme, ErrDenied)
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return g.CheckHost(host, port)
}

// Client returns an HTTP client that dials through the guard, uses no
// proxy, and re-checks every redirect (at most MaxRedirects).
func (g *Guard) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return fmt.Errorf("netguard: more than %d redirects: %w", MaxRedirects, ErrDenied)
			}
			return g.CheckURL(req.URL.Scheme, req.URL.Hostname(), req.URL.Port())
		},
	}
}
