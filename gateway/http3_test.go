package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/quic-go/quic-go/http3"

	"github.com/cillers/fapid/internal/tlsx"
)

// serveBoth serves the gateway on TCP (HTTPServer: HTTP/1.1 and HTTP/2)
// and UDP (HTTP/3) with the same TLS policy; it returns both base URLs.
func serveBoth(t *testing.T, e *env) (tcpURL, udpURL string) {
	t.Helper()
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{
		Source: tlsx.NewHolder(e.ca.issue(t, "gateway", true)), ClientAuth: tlsx.RequestClientCert, ClientCAs: e.ca.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := e.gw.HTTPServer(tc)
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.gw.ServeHTTP3(ctx, pc, tc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeHTTP3: %v", err)
		}
	})
	return "https://" + ln.Addr().String(), "https://" + pc.LocalAddr().String()
}

func h3Client(t *testing.T, e *env, cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: e.ca.pool}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	tr := &http3.Transport{TLSClientConfig: tc}
	t.Cleanup(func() { _ = tr.Close() })
	return &http.Client{Transport: tr}
}

type answer struct {
	status int
	chal   string
	body   string
}

func call(t *testing.T, c *http.Client, url string, hdr ...string) (answer, *http.Response) {
	t.Helper()
	r, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := c.Do(r)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header.Get("WWW-Authenticate"), string(b)}, res
}

// An HTTP/3 client with a client certificate gets the same answers as an
// HTTP/2 client; Alt-Svc advertises the UDP port.
func TestHTTP3SameAnswers(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *env) { c.Routes[1].AllowUnbound = false })
	certA, certB := e.ca.issue(t, "client-a", false), e.ca.issue(t, "client-b", false)
	bound := active("read")
	bound.Claims.CnfX5t = x5t(certA)
	e.as.set(tokenA, bound)
	tcpURL, udpURL := serveBoth(t, e)

	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		hdr  []string
		want int
	}{
		{"bound token, cert A", certA, []string{"Authorization", "Bearer " + tokenA}, 200},
		{"bound token, cert B", certB, []string{"Authorization", "Bearer " + tokenA}, 401},
		{"bound token, no cert", nil, []string{"Authorization", "Bearer " + tokenA}, 401},
		{"no token", certA, nil, 401},
		{"anonymous", nil, nil, 200},
		{"two Authorization", certA, []string{"Authorization", "Bearer " + tokenA, "Authorization", "Bearer " + tokenA}, 400},
	} {
		path := "/api/x"
		if tc.name == "anonymous" {
			path = "/api/public/x"
		}
		a2, res2 := call(t, e.client(tc.cert), tcpURL+path, tc.hdr...)
		a3, res3 := call(t, h3Client(t, e, tc.cert), udpURL+path, tc.hdr...)
		if res2.ProtoMajor != 2 || res3.ProtoMajor != 3 {
			t.Fatalf("%s: protocols %s / %s", tc.name, res2.Proto, res3.Proto)
		}
		if a2 != a3 || a2.status != tc.want {
			t.Fatalf("%s: HTTP/2 %+v, HTTP/3 %+v, want %d", tc.name, a2, a3, tc.want)
		}
		if alt := res2.Header.Get("Alt-Svc"); !strings.HasPrefix(alt, `h3=":`+udpURL[strings.LastIndex(udpURL, ":")+1:]+`"`) {
			t.Fatalf("Alt-Svc %q", alt)
		}
		if res3.Header.Get("Alt-Svc") != "" {
			t.Fatal("Alt-Svc on HTTP/3")
		}
	}
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("introspections %d", n)
	}
}

// CASES H05: a 20 KB header block → 431 on HTTP/1.1 and HTTP/2; HTTP/3
// refuses it too (the same decoded limit).
func TestH05HeaderLimitOnTheWire(t *testing.T) {
	e := newEnv(t, nil)
	tcpURL, udpURL := serveBoth(t, e)
	// 20 headers of 1 KiB: a 20 KB block (a single 20 KB value is a
	// connection error in HTTP/2's HPACK, which also reaches nothing).
	var hdr []string
	for i := range 20 {
		hdr = append(hdr, "X-Big-"+strconv.Itoa(i), strings.Repeat("a", 1000))
	}
	h1 := e.client(nil)
	h1.Transport.(*http.Transport).ForceAttemptHTTP2 = false
	h1.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"http/1.1"}
	for name, c := range map[string]*http.Client{"HTTP/1.1": h1, "HTTP/2": e.client(nil), "HTTP/3": h3Client(t, e, nil)} {
		url := tcpURL
		if name == "HTTP/3" {
			url = udpURL
		}
		a, res := call(t, c, url+"/api/x", hdr...)
		if a.status != 431 || res.Proto != name+map[bool]string{true: ".0", false: ""}[name == "HTTP/3" || name == "HTTP/2"] {
			t.Fatalf("%s (%s): %d", name, res.Proto, a.status)
		}
	}
	if e.as.calls.Load() != 0 || e.up.calls.Load() != 0 {
		t.Fatal("an oversized request did work")
	}
}

// TestH05SessionCookiesCountedApart: the agent's chunked cookies for a large
// ID token (about 16 KB sealed) do not trip the general 16 KiB limit, while
// the same bytes in any other header do; our cookies have their own cap.
func TestH05SessionCookiesCountedApart(t *testing.T) {
	e := newEnv(t, nil)
	tcpURL, _ := serveBoth(t, e)
	chunk := strings.Repeat("A", 3800)
	var ours []string
	for i := range 5 { // __Host-fapid-id, -id-1 … -id-4: ~19 KB
		name := "__Host-fapid-id"
		if i > 0 {
			name += "-" + strconv.Itoa(i)
		}
		ours = append(ours, name+"="+chunk)
	}
	cookie := strings.Join(ours, "; ")
	c := e.client(nil)
	// No credential: 401 from the pipeline, not 431 from the limit.
	if a, _ := call(t, c, tcpURL+"/api/x", "Cookie", cookie); a.status == 431 {
		t.Fatalf("our session cookies (%d bytes) were counted in the general limit", len(cookie))
	}
	if a, _ := call(t, c, tcpURL+"/api/x", "Cookie", strings.ReplaceAll(cookie, "__Host-fapid-", "other-")); a.status != 431 {
		t.Fatalf("the same bytes in foreign cookies: %d, want 431", a.status)
	}
	huge := strings.Join(append(ours, ours...), "; ")
	for len(huge) < 50<<10 {
		huge += "; __Host-fapid-x=" + chunk
	}
	if a, _ := call(t, c, tcpURL+"/api/x", "Cookie", huge); a.status != 431 {
		t.Fatalf("%d bytes of our cookies: %d, want 431", len(huge), a.status)
	}
}
