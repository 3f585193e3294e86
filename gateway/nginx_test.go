package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nginxConf is toolchain.md E's forward-auth set-up: auth_request to our
// endpoint, the JWT from the auth answer sent upstream, the opaque token
// never.
const nginxConf = `daemon off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log notice;
events { worker_connections 64; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  proxy_buffer_size 16k; proxy_buffers 8 16k; proxy_busy_buffers_size 32k;
  server {
    listen 127.0.0.1:%[2]d;
    location / {
      auth_request /_fapid_auth;
      auth_request_set $fapid_jwt $upstream_http_x_auth_jwt;
      proxy_set_header Authorization "Bearer $fapid_jwt";
      proxy_pass %[3]s;
    }
    location = /_fapid_auth {
      internal;
      proxy_pass %[4]s/_fapid/auth;
      proxy_pass_request_body off; proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri; proxy_set_header X-Original-Method $request_method;
    }
  }
}
`

// TestNginxForwardAuth runs a real nginx (Debian nginx-light) in front of
// the forward-auth endpoint. Without nginx it is skipped, except in CI.
func TestNginxForwardAuth(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx not installed (apt-get install nginx-light)")
		}
		t.Skip("nginx not installed")
	}
	e := newEnv(t, func(c *Config, _ *env) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.ForwardAuthPath = "/_fapid/auth"
	})
	e.as.set(tokenA, active("read"))
	auth := httptest.NewServer(e.gw.Handler()) // loopback; TLS to fapid is nginx config, not under test here
	t.Cleanup(auth.Close)
	seen := make(chan http.Header, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		_, _ = io.WriteString(w, "api "+r.URL.RequestURI())
	}))
	t.Cleanup(api.Close)

	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port, api.URL, auth.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-p", dir, "-c", conf)
	cmd.Stderr = os.Stderr
	// SIGTERM makes the master stop its worker too (SIGKILL would orphan it).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))

	get := func(token string) (*http.Response, string) {
		r, _ := http.NewRequest("GET", base+"/api/orders?x=1", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := get(tokenA)
	if res.StatusCode != 200 || body != "api /api/orders?x=1" {
		t.Fatalf("valid token: %d %q", res.StatusCode, body)
	}
	h := <-seen
	if h.Get("Authorization") != "Bearer "+active().JWT || strings.Contains(fmt.Sprint(h), tokenA) {
		t.Fatalf("upstream headers %v", h)
	}
	res, _ = get("bad-token-00000000000001")
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
		t.Fatalf("bad token: %d %q", res.StatusCode, res.Header.Values("WWW-Authenticate"))
	}
	if len(seen) != 0 {
		t.Fatal("upstream reached with a bad token")
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nginx did not listen on %s", addr)
}
