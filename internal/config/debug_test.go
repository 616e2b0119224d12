package config

import (
	"strings"
	"testing"
)

func TestValidatePprofAddress(t *testing.T) {
	tests := []struct {
		addr string
		want string // in the single problem, or "" for valid
	}{
		{"", ""},
		{"127.0.0.1:6060", ""},
		{"127.0.0.1:0", ""},
		{"127.45.6.7:6060", ""},
		{"[::1]:6060", ""},
		{"[::ffff:127.0.0.1]:6060", ""},
		{"localhost:6060", ""},
		{"0.0.0.0:6060", "must be a loopback address"},
		{":6060", "must be a loopback address"},
		{"[::]:6060", "must be a loopback address"},
		{"10.0.0.1:6060", "must be a loopback address"},
		{"192.168.1.2:6060", "must be a loopback address"},
		{"example.com:6060", "must be a loopback address"},
		{"localhost.example.com:6060", "must be a loopback address"},
		{"127.0.0.1", "must be host:port"},
		{"127.0.0.1:http", "the port must be a number"},
		{"127.0.0.1:65536", "the port must be a number"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			c := Default()
			c.Debug.PprofAddress = tt.addr
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			got := problems(t, err)
			if len(got) != 1 || !strings.HasPrefix(got[0], "debug.pprof_address: ") || !strings.Contains(got[0], tt.want) {
				t.Errorf("problems = %q, want one for debug.pprof_address containing %q", got, tt.want)
			}
		})
	}
}

func TestPprofAddressLoads(t *testing.T) {
	cfg, _, err := Load([]string{"--debug.pprof_address", "127.0.0.1:6060"}, func(string) string { return "" })
	if err != nil || cfg.Debug.PprofAddress != "127.0.0.1:6060" {
		t.Fatalf("Load = %q, %v; want 127.0.0.1:6060", cfg.Debug.PprofAddress, err)
	}
	cfg, _, err = Load(nil, func(k string) string {
		if k == "LATCHKEY_DEBUG_PPROF_ADDRESS" {
			return "0.0.0.0:6060"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := problems(t, cfg.Validate()); len(got) != 1 || !strings.HasPrefix(got[0], "debug.pprof_address: must be a loopback address") {
		t.Errorf("problems = %q, want the non-loopback address refused", got)
	}
}
