package cli

import "testing"

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		str  string
	}{
		{"0", 0, "0"},
		{"4096", 4096, "4KiB"},
		{"64MiB", 64 << 20, "64MiB"},
		{"64M", 64 << 20, "64MiB"},
		{"512K", 512 << 10, "512KiB"},
		{"2GiB", 2 << 30, "2GiB"},
		{"1000B", 1000, "1000"},
	}
	for _, tt := range tests {
		var b Size
		if err := b.Set(tt.in); err != nil || int64(b) != tt.want || b.String() != tt.str {
			t.Errorf("Set(%q) = %d (%s), %v; want %d (%s)", tt.in, int64(b), b, err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5GiB", "64 MiB", "9999999999999GiB", "12X"} {
		var b Size
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, int64(b))
		}
	}
}
