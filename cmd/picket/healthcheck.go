package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// cmdHealthcheck probes a running bot's /healthz; the container image uses
// it as its HEALTHCHECK because the image has no shell or curl.
func cmdHealthcheck(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	def := e.getenv("PICKET_HTTP_ADDR")
	if def == "" {
		def = "127.0.0.1:8080"
	}
	addr := fs.String("addr", def, "`host:port` of the bot's HTTP server")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	host := *addr
	// A server bound to every interface is reached on loopback.
	host = strings.Replace(host, "0.0.0.0:", "127.0.0.1:", 1)
	if strings.HasPrefix(host, ":") {
		host = "127.0.0.1" + host
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/healthz", nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "healthcheck: %v\n", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(e.stderr, "healthcheck: %v\n", err)
		return exitFailure
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(e.stderr, "healthcheck: %s\n", resp.Status)
		return exitFailure
	}
	fmt.Fprintln(e.stdout, "ok")
	return exitOK
}
