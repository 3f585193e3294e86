package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// TestClientConfigRefuses connects ClientConfig to servers that break the
// policy (FAPI 2.0 SP §5.2.1-2, §5.2.1-5, §5.2.2-2; conformance N2, N5, N7).
// The servers are plain tls.Configs, as a misconfigured peer would be.
func TestClientConfigRefuses(t *testing.T) {
	ca := newCA(t, "trusted")
	untrusted := newCA(t, "untrusted")
	good := ca.serverCert(t)
	rsaGood := ca.issue(t, leafOptions{cn: "localhost", dns: []string{"localhost"},
		eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, rsa: true}).tls
	isUnknownAuthority := func(err error) bool {
		var e x509.UnknownAuthorityError
		return errors.As(err, &e)
	}
	isHostname := func(err error) bool {
		var e x509.HostnameError
		return errors.As(err, &e)
	}
	contains := func(s string) func(error) bool {
		return func(err error) bool { return strings.Contains(err.Error(), s) }
	}
	for _, tc := range []struct {
		name   string
		server *tls.Config
		// refused tests the client's error; nil means accepted.
		refused func(error) bool
	}{
		{"trusted TLS1.3", &tls.Config{Certificates: []tls.Certificate{*good}}, nil},
		{"trusted TLS1.2 GCM", &tls.Config{Certificates: []tls.Certificate{*rsaGood}, MaxVersion: tls.VersionTLS12}, nil},
		{"untrusted CA", &tls.Config{Certificates: []tls.Certificate{*untrusted.serverCert(t)}}, isUnknownAuthority},
		{"wrong name", &tls.Config{Certificates: []tls.Certificate{*ca.issue(t, leafOptions{cn: "other",
			dns: []string{"other.example"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}).tls}}, isHostname},
		{"clientAuth-only server cert", &tls.Config{Certificates: []tls.Certificate{*ca.issue(t, leafOptions{cn: "localhost",
			dns: []string{"localhost"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}).tls}}, contains("incompatible key usage")},
		{"TLS1.2 CBC only", &tls.Config{Certificates: []tls.Certificate{*rsaGood}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}}, contains("handshake failure")},
		{"TLS1.2 ECDSA CBC only", &tls.Config{Certificates: []tls.Certificate{*good}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, contains("handshake failure")},
		{"TLS1.2 static RSA only", &tls.Config{Certificates: []tls.Certificate{*rsaGood}, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}, contains("handshake failure")},
		{"TLS1.1 only", &tls.Config{Certificates: []tls.Certificate{*good}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
			contains("protocol version not supported")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startEcho(t, tc.server)
			ccfg, err := ClientConfig(ClientOptions{RootCAs: ca.pool, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = connect(t, srv.addr, ccfg)
			r := srv.result(t)
			if tc.refused == nil {
				if err != nil || r.err != nil {
					t.Fatalf("client: %v; server: %v", err, r.err)
				}
				return
			}
			if err == nil {
				t.Fatalf("client accepted (version %x, suite %s)", r.state.Version, tls.CipherSuiteName(r.state.CipherSuite))
			}
			if !tc.refused(err) {
				t.Errorf("client refused for another reason: %v", err)
			}
		})
	}
}

// TestClientCertificateRenewal: ClientConfig asks its Source on every
// handshake, so a certificate swapped into the Holder is presented on the
// next connection.
func TestClientCertificateRenewal(t *testing.T) {
	ca := newCA(t, "ca")
	cfg, err := ServerConfig(ServerOptions{Source: NewHolder(ca.serverCert(t)), ClientAuth: RequireClientCert, ClientCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	srv := startEcho(t, cfg)
	first, second := ca.clientCert(t, "client"), ca.clientCert(t, "client")
	h := NewHolder(first)
	ccfg, err := ClientConfig(ClientOptions{RootCAs: ca.pool, ServerName: "localhost", Source: h})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*tls.Certificate{first, second} {
		h.Set(want)
		_, err := connect(t, srv.addr, ccfg)
		st := wantAccepted(t, srv, err)
		if got := st.PeerCertificates[0].SerialNumber.String(); got != serialOf(want) {
			t.Errorf("server saw serial %s, want %s", got, serialOf(want))
		}
	}
	// An emptied source fails the handshake rather than sending nothing.
	h.Set(nil)
	_, err = connect(t, srv.addr, ccfg)
	if !errors.Is(err, ErrNoCertificate) {
		t.Errorf("client error %v, want ErrNoCertificate", err)
	}
	if r := srv.result(t); r.err == nil {
		t.Error("server accepted a client whose source is empty")
	}
}
