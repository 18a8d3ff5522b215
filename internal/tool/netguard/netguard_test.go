package netguard

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestPublicIP(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true}, {"1.1.1.1", true}, {"2606:4700:4700::1111", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"127.0.0.1", false}, {"127.255.0.1", false}, {"10.1.2.3", false}, {"172.31.0.1", false},
		{"192.168.1.1", false}, {"169.254.169.254", false}, {"100.64.0.1", false}, {"100.127.255.255", false},
		{"0.0.0.0", false}, {"0.1.2.3", false}, {"224.0.0.1", false}, {"255.255.255.255", false}, {"240.0.0.1", false},
		{"::", false}, {"::1", false}, {"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false},
		{"64:ff9b::7f00:1", false}, {"64:ff9b::a00:1", false}, {"2002:7f00:1::", false},
		{"fd00::1", false}, {"fc00::1", false}, {"fe80::1", false}, {"ff02::1", false},
	} {
		if got := PublicIP(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("PublicIP(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
}

func TestCheckHost(t *testing.T) {
	g := New([]string{"internal.example:8443", "127.0.0.1:9999"})
	for _, c := range []struct {
		host, port string
		ok         bool
	}{
		{"example.com", "443", true},
		{"internal.example", "8443", true},
		{"127.0.0.1", "9999", true},
		{"127.0.0.1", "9998", false},
		{"2130706433", "80", false}, {"0x7f000001", "80", false}, {"017700000001", "80", false},
		{"127.1", "80", false}, {"0x7f.0.0.1", "80", false}, {"10.0.0.1", "80", false}, {"", "80", false},
	} {
		err := g.CheckHost(c.host, c.port)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrDenied)) {
			t.Errorf("CheckHost(%s, %s) = %v, want ok=%v", c.host, c.port, err, c.ok)
		}
	}
}

// TestDialRefusesBeforeConnecting: a private literal is refused by the
// host check, a name that resolves to loopback by the dialer's check of
// the resolved address; neither connects.
func TestDialRefusesBeforeConnecting(t *testing.T) {
	g := New(nil)
	for _, addr := range []string{"10.0.0.1:80", "192.168.0.1:80", "localhost:1", "[::1]:1"} {
		c, err := g.DialContext(context.Background(), "tcp", addr)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, ErrDenied) {
			t.Errorf("dial %s: %v, want a refusal", addr, err)
		}
	}
}
