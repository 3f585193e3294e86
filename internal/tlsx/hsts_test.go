package tlsx

import (
	"errors"
	"net"
	"net/http"
	"testing"
)

// TestHSTS serves HSTS-wrapped handlers over a real TLS listener built from
// ServerConfig, with HTTP/2 and HTTP/1.1 clients built from ClientConfig.
func TestHSTS(t *testing.T) {
	ca := newCA(t, "ca")
	cfg, err := ServerConfig(ServerOptions{Source: NewHolder(ca.serverCert(t))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/body", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/body", http.StatusFound)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: HSTS(mux), TLSConfig: cfg, ReadHeaderTimeout: ioTimeout}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})

	for _, h2 := range []bool{true, false} {
		wantMajor := 1
		if h2 {
			wantMajor = 2
		}
		ccfg, err := ClientConfig(ClientOptions{RootCAs: ca.pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{TLSClientConfig: ccfg, ForceAttemptHTTP2: h2}
		if !h2 {
			ccfg.NextProtos = []string{"http/1.1"}
		}
		client := &http.Client{Transport: tr, Timeout: ioTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		t.Cleanup(tr.CloseIdleConnections)
		for _, path := range []string{"/body", "/status", "/empty", "/redirect", "/missing"} {
			resp, err := client.Get("https://" + ln.Addr().String() + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != wantMajor {
				t.Errorf("GET %s: HTTP/%d, want HTTP/%d", path, resp.ProtoMajor, wantMajor)
			}
			if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != "max-age=63072000; includeSubDomains" {
				t.Errorf("GET %s (%s, %d): Strict-Transport-Security %q", path, resp.Proto, resp.StatusCode, got)
			}
		}
	}
}
