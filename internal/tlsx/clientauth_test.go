package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
)

// TestClientAuthModes runs each client-certificate mode against clients with
// no certificate, a good one, one from another CA, a serverAuth-only one and
// an expired one, over TLS 1.2 and TLS 1.3 (RFC 8705 §2).
func TestClientAuthModes(t *testing.T) {
	ca := newCA(t, "client ca")
	other := newCA(t, "other ca")
	serverCert := ca.serverCert(t)
	clients := map[string]*tls.Certificate{
		"none":          nil,
		"good":          ca.clientCert(t, "client"),
		"other CA":      other.clientCert(t, "intruder"),
		"serverAuth":    ca.issue(t, leafOptions{cn: "server as client", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}).tls,
		"expired":       ca.issue(t, leafOptions{cn: "old", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, expired: true}).tls,
		"no EKU at all": ca.issue(t, leafOptions{cn: "any purpose"}).tls,
	}
	const (
		noCert     = "client didn't provide a certificate"
		unknownCA  = "certificate signed by unknown authority"
		badUsage   = "incompatible key usage"
		expiredErr = "certificate has expired"
	)
	for _, tc := range []struct {
		mode   ClientAuth
		client string
		// refused is the server's reason; "" means accepted.
		refused string
		// wantPeer: the server sees the client certificate.
		wantPeer bool
	}{
		{NoClientCert, "none", "", false},
		{NoClientCert, "good", "", false}, // not asked, not sent
		{RequestClientCert, "none", "", false},
		{RequestClientCert, "good", "", true},
		{RequestClientCert, "no EKU at all", "", true}, // x509: no EKU means any
		{RequestClientCert, "other CA", unknownCA, false},
		{RequestClientCert, "serverAuth", badUsage, false},
		{RequestClientCert, "expired", expiredErr, false},
		{RequireClientCert, "none", noCert, false},
		{RequireClientCert, "good", "", true},
		{RequireClientCert, "other CA", unknownCA, false},
		{RequireClientCert, "serverAuth", badUsage, false},
		{RequireClientCert, "expired", expiredErr, false},
	} {
		cfg, err := ServerConfig(ServerOptions{Source: NewHolder(serverCert), ClientAuth: tc.mode, ClientCAs: ca.pool})
		if err != nil {
			t.Fatal(err)
		}
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			name := fmt.Sprintf("%v/%s/%s", tc.mode, tc.client, tls.VersionName(version))
			t.Run(name, func(t *testing.T) {
				srv := startEcho(t, cfg)
				o := ClientOptions{RootCAs: ca.pool, ServerName: "localhost"}
				if c := clients[tc.client]; c != nil {
					// ClientConfig sends the certificate even when the
					// server's acceptable-CA list does not name its issuer,
					// so the server, not the client, makes the decision.
					o.Source = NewHolder(c)
				}
				ccfg, err := ClientConfig(o)
				if err != nil {
					t.Fatal(err)
				}
				ccfg.MaxVersion = version
				_, err = connect(t, srv.addr, ccfg)
				if tc.refused != "" {
					wantRefused(t, srv, err, tc.refused)
					return
				}
				st := wantAccepted(t, srv, err)
				if got := len(st.PeerCertificates) > 0; got != tc.wantPeer {
					t.Fatalf("server sees a client certificate: %v, want %v", got, tc.wantPeer)
				}
				if tc.wantPeer {
					if !st.PeerCertificates[0].Equal(clients[tc.client].Leaf) {
						t.Error("server sees a different client certificate")
					}
					if len(st.VerifiedChains) == 0 {
						t.Error("client certificate not verified")
					}
				}
			})
		}
	}
}
