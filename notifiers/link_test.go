package notifiers

import "testing"

func TestLinkConsoleURLs(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no url", "a <b> & c", "a &lt;b&gt; &amp; c"},
		{"detective", "See https://console.aws.amazon.com/detective/home?region=us-east-1#x.",
			"See <https://console.aws.amazon.com/detective/home?region=us-east-1#x|Detective profile>."},
		{"regional console", "https://us-east-1.console.aws.amazon.com/ec2/home",
			"<https://us-east-1.console.aws.amazon.com/ec2/home|AWS console>"},
		{"other host stays text", "https://evil.example/detective/", "https://evil.example/detective/"},
		{"lookalike host stays text", "https://console.aws.amazon.com.evil.example/", "https://console.aws.amazon.com.evil.example/"},
		{"userinfo stays text", "https://x@console.aws.amazon.com/", "https://x@console.aws.amazon.com/"},
		{"markup in url is encoded", "https://console.aws.amazon.com/a?b=<!channel>|x",
			"<https://console.aws.amazon.com/a?b=%3C!channel%3E%7Cx|AWS console>"},
		{"http is not linked unless console", "http://console.aws.amazon.com/x", "http://console.aws.amazon.com/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := linkConsoleURLs(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
