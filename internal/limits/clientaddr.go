package limits

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Proxies are the networks of trusted reverse proxies, whose X-Forwarded-For entries are believed.
type Proxies []netip.Prefix

// ParseProxy reads one trusted proxy entry: a CIDR network ("10.0.0.0/8") or a single address.
func ParseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR network or an IP address: %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR network or an IP address: %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseProxies reads every entry with ParseProxy.
func ParseProxies(entries []string) (Proxies, error) {
	var p Proxies
	for _, e := range entries {
		prefix, err := ParseProxy(e)
		if err != nil {
			return nil, err
		}
		p = append(p, prefix)
	}
	return p, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the client's IP address and port. It is the peer's (remoteAddr, "host:port"),
// unless the peer is a trusted proxy: then it is the right-most X-Forwarded-For address that is not
// itself a trusted proxy, because every proxy appends the address it saw, and only the entries that
// trusted proxies appended can be believed (a client can send any X-Forwarded-For it likes). When every
// entry is trusted, or an entry is not an address, the walk stops at the last address it could believe.
// forwardedFor is every X-Forwarded-For header line, in order. The port is empty when it comes from the
// header, which seldom carries one.
func (p Proxies) ClientAddr(remoteAddr string, forwardedFor []string) (ip, port string) {
	ip, port, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		ip, port = remoteAddr, ""
	}
	if len(p) == 0 || len(forwardedFor) == 0 {
		return ip, port
	}
	peer, err := netip.ParseAddr(ip)
	if err != nil || !p.trusted(peer) {
		return ip, port
	}
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		entries := strings.Split(forwardedFor[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, aport, ok := parseForwarded(entries[j])
			if !ok {
				return ip, port
			}
			ip, port = a.Unmap().String(), aport
			if !p.trusted(a) {
				return ip, port
			}
		}
	}
	return ip, port
}

// parseForwarded reads one X-Forwarded-For entry: an address, or an address and port ("192.0.2.1:4711",
// "[2001:db8::1]:4711"), as some proxies write.
func parseForwarded(s string) (netip.Addr, string, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone(""), "", true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone(""), strconv.Itoa(int(ap.Port())), true
	}
	return netip.Addr{}, "", false
}

// Key is the rate-limit key of a client address: the address itself for IPv4, its /64 network for IPv6,
// since one IPv6 subscriber is routinely given a whole /64 and could otherwise present a fresh address
// per request. Anything that is not an address is its own key.
func Key(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
