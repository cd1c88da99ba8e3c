package notifiers

import "testing"

func TestStripMarkers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"*What changed*\n• New: 3", "What changed\n• New: 3"},
		{"*Queue:* 7 waiting", "Queue: 7 waiting"},
		{`1.22 Ensure IAM policies that allow full "*:*" administrative privileges`, `1.22 Ensure IAM policies that allow full "*:*" administrative privileges`},
		{"bucket my_data_bucket is public", "bucket my_data_bucket is public"},
		{"`i-0abc` in _eu-west-1_.", "i-0abc in eu-west-1."},
		{"(*bold*)", "(bold)"},
	}
	for _, tt := range tests {
		if got := stripMarkers(tt.in); got != tt.want {
			t.Errorf("stripMarkers(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
