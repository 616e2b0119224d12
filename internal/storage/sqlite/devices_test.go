package sqlite

import (
	"slices"
	"testing"
)

// TestParseDevices covers the escape-free fast path and the JSON fallback; accounts have one device
// through the storage contract, so the conformance suite never shows several.
func TestParseDevices(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`[]`, nil},
		{``, nil},
		{`["a"]`, []string{"a"}},
		{`["device-1","device-2","device-3"]`, []string{"device-1", "device-2", "device-3"}},
		{`["ünï","设备"]`, []string{"ünï", "设备"}},
		{`[""]`, []string{""}},
		{`["",""]`, []string{"", ""}},
		{`["a\",\"b","c"]`, []string{`a","b`, "c"}},
		{`["back\\slash","tab\u0009"]`, []string{`back\slash`, "tab\t"}},
	}
	for _, tt := range tests {
		got, err := parseDevices(tt.in)
		if err != nil {
			t.Errorf("parseDevices(%s): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("parseDevices(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := parseDevices(`["unterminated`); err == nil {
		t.Error("parseDevices accepted malformed text")
	}
}
