package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
)

var wantSuites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}

var wantCurves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

func checkPolicy(t *testing.T, cfg *tls.Config) {
	t.Helper()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	if cfg.MaxVersion != 0 {
		t.Errorf("MaxVersion = %x, want 0 (TLS 1.3)", cfg.MaxVersion)
	}
	if !slices.Equal(cfg.CipherSuites, wantSuites12) {
		t.Errorf("CipherSuites = %v, want %v", cfg.CipherSuites, wantSuites12)
	}
	if !slices.Equal(cfg.CurvePreferences, wantCurves) {
		t.Errorf("CurvePreferences = %v, want %v", cfg.CurvePreferences, wantCurves)
	}
	if cfg.InsecureSkipVerify {
		t.Error("InsecureSkipVerify set")
	}
	if cfg.SessionTicketsDisabled {
		t.Error("SessionTicketsDisabled set: TLS 1.3 resumption is wanted")
	}
}

func TestServerConfigPolicy(t *testing.T) {
	ca := newCA(t, "ca")
	for _, tc := range []struct {
		auth    ClientAuth
		want    tls.ClientAuthType
		wantCAs bool
	}{
		{NoClientCert, tls.NoClientCert, false},
		{RequestClientCert, tls.VerifyClientCertIfGiven, true},
		{RequireClientCert, tls.RequireAndVerifyClientCert, true},
	} {
		t.Run(tc.auth.String(), func(t *testing.T) {
			cfg, err := ServerConfig(ServerOptions{Source: NewHolder(ca.serverCert(t)), ClientAuth: tc.auth, ClientCAs: ca.pool})
			if err != nil {
				t.Fatal(err)
			}
			checkPolicy(t, cfg)
			if cfg.ClientAuth != tc.want {
				t.Errorf("ClientAuth = %v, want %v", cfg.ClientAuth, tc.want)
			}
			if (cfg.ClientCAs != nil) != tc.wantCAs {
				t.Errorf("ClientCAs set = %v, want %v", cfg.ClientCAs != nil, tc.wantCAs)
			}
			if cfg.GetCertificate == nil || len(cfg.Certificates) != 0 {
				t.Error("want the certificate from GetCertificate only")
			}
		})
	}
}

func TestClientConfigPolicy(t *testing.T) {
	ca := newCA(t, "ca")
	cfg, err := ClientConfig(ClientOptions{RootCAs: ca.pool, ServerName: "as.example", Source: NewHolder(ca.clientCert(t, "c"))})
	if err != nil {
		t.Fatal(err)
	}
	checkPolicy(t, cfg)
	if cfg.RootCAs != ca.pool || cfg.ServerName != "as.example" || cfg.GetClientCertificate == nil {
		t.Errorf("options not applied: %+v", cfg)
	}
	if cfg.ClientSessionCache != nil {
		t.Error("ClientSessionCache set")
	}
	cfg, err = ClientConfig(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GetClientCertificate != nil {
		t.Error("GetClientCertificate set without a Source")
	}
}

func TestCipherSuites12(t *testing.T) {
	if !slices.Equal(CipherSuites12, wantSuites12) {
		t.Fatalf("CipherSuites12 = %v", CipherSuites12)
	}
	for _, id := range CipherSuites12 {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !strings.Contains(name, "_GCM_") {
			t.Errorf("%s is not an ECDHE AES-GCM suite", name)
		}
		if slices.ContainsFunc(tls.InsecureCipherSuites(), func(s *tls.CipherSuite) bool { return s.ID == id }) {
			t.Errorf("%s is insecure", name)
		}
	}
	// The exported slice is informational: changing it must not change
	// the configs.
	saved := CipherSuites12[0]
	CipherSuites12[0] = tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
	t.Cleanup(func() { CipherSuites12[0] = saved })
	cfg, err := ClientConfig(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.CipherSuites, wantSuites12) {
		t.Errorf("config follows a changed CipherSuites12: %v", cfg.CipherSuites)
	}
}

func TestParseClientAuth(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    ClientAuth
		wantErr bool
	}{
		{"none", NoClientCert, false},
		{"request", RequestClientCert, false},
		{"require", RequireClientCert, false},
		{"", 0, true},
		{"Require", 0, true},
		{"optional", 0, true},
		{"require ", 0, true},
	} {
		got, err := ParseClientAuth(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseClientAuth(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
	if s := ClientAuth(7).String(); s != "ClientAuth(7)" {
		t.Errorf("ClientAuth(7).String() = %q", s)
	}
}

func TestServerConfigErrors(t *testing.T) {
	ca := newCA(t, "ca")
	src := NewHolder(ca.serverCert(t))
	for name, o := range map[string]ServerOptions{
		"no source":           {ClientCAs: ca.pool},
		"request without CAs": {Source: src, ClientAuth: RequestClientCert},
		"require without CAs": {Source: src, ClientAuth: RequireClientCert},
		"unknown mode":        {Source: src, ClientAuth: ClientAuth(7), ClientCAs: ca.pool},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := ServerConfig(o)
			if err == nil || cfg != nil {
				t.Fatalf("ServerConfig = %v, %v; want an error", cfg, err)
			}
			if !strings.HasPrefix(err.Error(), "tlsx: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestServerProtocolPolicy connects clients with pinned versions, suites and
// groups to real listeners configured by ServerConfig (FAPI 2.0 SP §5.2.1-2,
// §5.2.2-1; conformance cases N2, N3, N6).
func TestServerProtocolPolicy(t *testing.T) {
	ca := newCA(t, "ca")
	start := func(cert *tls.Certificate) *echoServer {
		cfg, err := ServerConfig(ServerOptions{Source: NewHolder(cert)})
		if err != nil {
			t.Fatal(err)
		}
		return startEcho(t, cfg)
	}
	ecSrv := start(ca.serverCert(t))
	rsaSrv := start(ca.issue(t, leafOptions{cn: "localhost", dns: []string{"localhost"},
		eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, rsa: true}).tls)

	const (
		noSuite   = "no cipher suite supported by both client and server"
		noVersion = "client offered only unsupported versions"
		noCurve   = "no key exchanges supported by both client and server"
	)
	for _, tc := range []struct {
		name     string
		rsa      bool // connect to the RSA-certificate server
		min, max uint16
		suites   []uint16
		curves   []tls.CurveID
		refused  string // server error; "" means accepted
		// for accepted connections
		wantVersion uint16
		wantCurve   tls.CurveID
	}{
		{name: "TLS1.3 default groups", max: tls.VersionTLS13, wantVersion: tls.VersionTLS13, wantCurve: tls.X25519MLKEM768},
		{name: "TLS1.3 X25519", max: tls.VersionTLS13, curves: []tls.CurveID{tls.X25519}, wantVersion: tls.VersionTLS13, wantCurve: tls.X25519},
		{name: "TLS1.3 P-256", max: tls.VersionTLS13, curves: []tls.CurveID{tls.CurveP256}, wantVersion: tls.VersionTLS13, wantCurve: tls.CurveP256},
		{name: "TLS1.3 P-384 RSA cert", rsa: true, max: tls.VersionTLS13, curves: []tls.CurveID{tls.CurveP384}, wantVersion: tls.VersionTLS13, wantCurve: tls.CurveP384},
		{name: "TLS1.3 P-521 only", max: tls.VersionTLS13, curves: []tls.CurveID{tls.CurveP521}, refused: noCurve},
		{name: "TLS1.3 SecP256r1MLKEM768 only", max: tls.VersionTLS13, curves: []tls.CurveID{tls.SecP256r1MLKEM768}, refused: noCurve},
		{name: "TLS1.2 ECDHE-ECDSA-AES128-GCM", max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, wantVersion: tls.VersionTLS12, wantCurve: tls.X25519},
		{name: "TLS1.2 ECDHE-ECDSA-AES256-GCM", max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, wantVersion: tls.VersionTLS12, wantCurve: tls.X25519},
		{name: "TLS1.2 ECDHE-RSA-AES128-GCM", rsa: true, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, wantVersion: tls.VersionTLS12, wantCurve: tls.X25519},
		{name: "TLS1.2 ECDHE-RSA-AES256-GCM P-384", rsa: true, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, curves: []tls.CurveID{tls.CurveP384}, wantVersion: tls.VersionTLS12, wantCurve: tls.CurveP384},
		{name: "TLS1.2 ECDHE-ECDSA-AES128-CBC-SHA", max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}, refused: noSuite},
		{name: "TLS1.2 ECDHE-RSA-AES128-CBC-SHA", rsa: true, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}, refused: noSuite},
		{name: "TLS1.2 ECDHE-ECDSA-AES128-CBC-SHA256", max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, refused: noSuite},
		{name: "TLS1.2 static RSA AES-GCM", rsa: true, max: tls.VersionTLS12, suites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, refused: noSuite},
		{name: "TLS1.2 ECDHE-RSA-3DES", rsa: true, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}, refused: noSuite},
		{name: "TLS1.2 ECDHE-ECDSA-CHACHA20", max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, refused: noSuite},
		{name: "TLS1.2 AES-GCM with P-521 only", max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, curves: []tls.CurveID{tls.CurveP521}, refused: noSuite},
		{name: "TLS1.1", min: tls.VersionTLS10, max: tls.VersionTLS11, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, refused: noVersion},
		{name: "TLS1.0", min: tls.VersionTLS10, max: tls.VersionTLS10, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, refused: noVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ecSrv
			if tc.rsa {
				srv = rsaSrv
			}
			cfg := &tls.Config{
				RootCAs:          ca.pool,
				ServerName:       "localhost",
				MinVersion:       tc.min,
				MaxVersion:       tc.max,
				CipherSuites:     tc.suites,
				CurvePreferences: tc.curves,
			}
			_, err := connect(t, srv.addr, cfg)
			if tc.refused != "" {
				wantRefused(t, srv, err, tc.refused)
				return
			}
			st := wantAccepted(t, srv, err)
			if st.Version != tc.wantVersion {
				t.Errorf("version %x, want %x", st.Version, tc.wantVersion)
			}
			if tc.suites != nil && st.CipherSuite != tc.suites[0] {
				t.Errorf("suite %s, want %s", tls.CipherSuiteName(st.CipherSuite), tls.CipherSuiteName(tc.suites[0]))
			}
			if st.CurveID != tc.wantCurve {
				t.Errorf("group %v, want %v", st.CurveID, tc.wantCurve)
			}
		})
	}
}

// TestSessionResumption: TLS 1.3 resumes (and keeps the client certificate
// for RFC 8705 binding); TLS 1.2 never does.
func TestSessionResumption(t *testing.T) {
	ca := newCA(t, "ca")
	clientCert := ca.clientCert(t, "client")
	cfg, err := ServerConfig(ServerOptions{Source: NewHolder(ca.serverCert(t)), ClientAuth: RequireClientCert, ClientCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	srv := startEcho(t, cfg)
	for _, tc := range []struct {
		name       string
		max        uint16
		wantResume bool
	}{
		{"TLS1.3", tls.VersionTLS13, true},
		{"TLS1.2", tls.VersionTLS12, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg, err := ClientConfig(ClientOptions{RootCAs: ca.pool, ServerName: "localhost", Source: NewHolder(clientCert)})
			if err != nil {
				t.Fatal(err)
			}
			ccfg.MaxVersion = tc.max
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i := range 2 {
				cs, err := connect(t, srv.addr, ccfg)
				ss := wantAccepted(t, srv, err)
				wantResumed := i == 1 && tc.wantResume
				if cs.DidResume != wantResumed || ss.DidResume != wantResumed {
					t.Errorf("connection %d: resumed client %v server %v, want %v", i, cs.DidResume, ss.DidResume, wantResumed)
				}
				if len(ss.PeerCertificates) == 0 || !ss.PeerCertificates[0].Equal(clientCert.Leaf) {
					t.Errorf("connection %d: server lost the client certificate", i)
				}
			}
		})
	}
}

// TestNoTLS12Ticket: a TLS 1.2 connection gets the empty ticket of RFC 5077
// §3.3, so no master secret leaves the server wrapped under a ticket key.
func TestNoTLS12Ticket(t *testing.T) {
	ca := newCA(t, "ca")
	cfg, err := ServerConfig(ServerOptions{Source: NewHolder(ca.serverCert(t))})
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := cfg.WrapSession(tls.ConnectionState{Version: tls.VersionTLS12}, &tls.SessionState{})
	if err != nil || len(ticket) != 0 {
		t.Errorf("TLS 1.2 WrapSession = %d bytes, %v; want an empty ticket", len(ticket), err)
	}
	ss, err := cfg.UnwrapSession([]byte("any ticket"), tls.ConnectionState{Version: tls.VersionTLS12})
	if ss != nil || err != nil {
		t.Errorf("TLS 1.2 UnwrapSession = %v, %v; want nil, nil", ss, err)
	}
}
