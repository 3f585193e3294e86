package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// CipherSuites12 lists the only TLS 1.2 cipher suites fapid negotiates: the
// four ECDHE AES-GCM suites recommended by RFC 9325 §4.2 and required by
// FAPI 2.0 Security Profile §5.2.2. TLS 1.3 suites are not configurable in
// Go and are all AEAD.
//
// The slice is informational: configs are built from a private copy, so
// changing it does not weaken the policy.
var CipherSuites12 = cipherSuites12()

func cipherSuites12() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
}

// curvePreferences lists the key exchange groups fapid offers and accepts.
// X25519MLKEM768 is the post-quantum hybrid (TLS 1.3 only); Go orders the
// list itself and prefers the hybrid.
func curvePreferences() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}
}

// ClientAuth says whether a listener asks for a client certificate
// (RFC 8705 mutual TLS). The zero value, NoClientCert, asks for none.
type ClientAuth int

const (
	// NoClientCert sends no CertificateRequest.
	NoClientCert ClientAuth = iota
	// RequestClientCert asks for a certificate and, if one is sent, verifies
	// it against ServerOptions.ClientCAs with the clientAuth key usage
	// (tls.VerifyClientCertIfGiven). A connection without one is accepted.
	RequestClientCert
	// RequireClientCert refuses a connection without a certificate that
	// verifies against ServerOptions.ClientCAs with the clientAuth key usage
	// (tls.RequireAndVerifyClientCert).
	RequireClientCert
)

// String returns the configuration spelling: "none", "request" or "require".
func (a ClientAuth) String() string {
	switch a {
	case NoClientCert:
		return "none"
	case RequestClientCert:
		return "request"
	case RequireClientCert:
		return "require"
	}
	return fmt.Sprintf("ClientAuth(%d)", int(a))
}

// ParseClientAuth parses "none", "request" or "require" (exact, lower case).
func ParseClientAuth(s string) (ClientAuth, error) {
	switch s {
	case "none":
		return NoClientCert, nil
	case "request":
		return RequestClientCert, nil
	case "require":
		return RequireClientCert, nil
	}
	return 0, fmt.Errorf("tlsx: client auth %q: want none, request or require", s)
}

func (a ClientAuth) tlsType() (tls.ClientAuthType, error) {
	switch a {
	case NoClientCert:
		return tls.NoClientCert, nil
	case RequestClientCert:
		return tls.VerifyClientCertIfGiven, nil
	case RequireClientCert:
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("tlsx: unknown %v", a)
}

// ServerOptions configures [ServerConfig].
type ServerOptions struct {
	// Source yields the server certificate on every handshake; required.
	// Use a [*Holder] for certificates the embedded CA renews, a
	// [*FileSource] for files on disk.
	Source Source
	// ClientAuth selects the client-certificate mode; zero asks for none.
	ClientAuth ClientAuth
	// ClientCAs verifies client certificates. Required for
	// RequestClientCert and RequireClientCert, ignored for NoClientCert.
	ClientCAs *x509.CertPool
	// NextProtos is the ALPN list (for example "h2", "http/1.1"). nil lets
	// net/http fill in its defaults.
	NextProtos []string
}

// ServerConfig returns a server tls.Config with the FAPI 2.0 policy: TLS 1.2
// or 1.3, the four [CipherSuites12] for TLS 1.2, the groups X25519MLKEM768,
// X25519, P-256 and P-384, and the requested client-certificate mode.
//
// Session resumption: TLS 1.3 tickets are issued and accepted (Go resumes
// only in psk_dhe_ke mode, so every resumed connection still runs a fresh
// ECDHE and keeps forward secrecy; ticket keys rotate daily). TLS 1.2 gets no
// usable ticket, because a TLS 1.2 ticket carries the master secret and is
// sent unencrypted; this is done with WrapSession and UnwrapSession, which
// the caller must not replace (quic-go's http3 wraps them, which is fine).
// 0-RTT: crypto/tls never accepts early data over TCP; for QUIC the caller
// must leave quic.Config.Allow0RTT false.
//
// The listener has one certificate, from Source, whatever the SNI. Do not
// add Certificates to the returned config: Go then serves Certificates[0]
// to clients that send no SNI (httptest.Server.StartTLS does this).
func ServerConfig(o ServerOptions) (*tls.Config, error) {
	if o.Source == nil {
		return nil, errors.New("tlsx: server config: no certificate source")
	}
	mode, err := o.ClientAuth.tlsType()
	if err != nil {
		return nil, err
	}
	if mode != tls.NoClientCert && o.ClientCAs == nil {
		return nil, fmt.Errorf("tlsx: server config: client auth %v needs client CAs", o.ClientAuth)
	}
	src := o.Source
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     cipherSuites12(),
		CurvePreferences: curvePreferences(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return src.Certificate()
		},
		ClientAuth: mode,
		NextProtos: append([]string(nil), o.NextProtos...),
	}
	if mode != tls.NoClientCert {
		cfg.ClientCAs = o.ClientCAs
	}
	refuseTLS12Tickets(cfg)
	return cfg, nil
}

// refuseTLS12Tickets keeps TLS 1.3 resumption and removes TLS 1.2 resumption.
//
// A TLS 1.2 ticket (RFC 5077) wraps the master secret under the server's
// ticket key and travels in a plaintext handshake message, so whoever later
// learns a ticket key (valid for up to seven days in Go) can decrypt the
// recorded session: forward secrecy is lost (RFC 9325 §3.4). TLS 1.2 clients
// are the minority under FAPI 2.0, so they pay a full handshake instead: the
// server sends the empty ticket RFC 5077 §3.3 provides for "no ticket" and
// never resumes a TLS 1.2 session.
//
// The hooks use cfg's own ticket keys, so clones of cfg (net/http and
// quic-go clone it) share them.
func refuseTLS12Tickets(cfg *tls.Config) {
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		if cs.Version < tls.VersionTLS13 {
			return []byte{}, nil
		}
		return cfg.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		if cs.Version < tls.VersionTLS13 {
			return nil, nil
		}
		return cfg.DecryptTicket(identity, cs)
	}
}

// ClientOptions configures [ClientConfig].
type ClientOptions struct {
	// RootCAs verifies the server certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// Source, if set, yields the client certificate (RFC 8705 mutual TLS),
	// asked for on every handshake so a renewed certificate is used on the
	// next connection. nil sends no client certificate.
	Source Source
	// ServerName is the name verified in the server certificate (RFC 9525)
	// and sent as SNI. Empty lets net/http use the request's host.
	ServerName string
}

// ClientConfig returns a client tls.Config with the same policy as
// [ServerConfig]. The server certificate is always verified; there is no
// way to turn that off. No session cache is set, so the client never
// resumes and never sends early data.
func ClientConfig(o ClientOptions) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     cipherSuites12(),
		CurvePreferences: curvePreferences(),
		RootCAs:          o.RootCAs,
		ServerName:       o.ServerName,
	}
	if src := o.Source; src != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return src.Certificate()
		}
	}
	return cfg, nil
}
