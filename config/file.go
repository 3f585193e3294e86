package config

import "time"

// File is the schema of fapid.yaml.
type File struct {
	Log           Log                    `yaml:"log"`
	ShutdownGrace time.Duration          `yaml:"shutdown_grace"`
	Ops           Ops                    `yaml:"ops"`
	PKI           *PKI                   `yaml:"pki"`
	Certificates  map[string]Certificate `yaml:"certificates"`
	Listeners     []Listener             `yaml:"listeners"`

	AuthorizationServer *AuthorizationServer `yaml:"authorization_server"`
	Session             *Session             `yaml:"session"`
	Agent               *Agent               `yaml:"agent"`
	Gateway             *Gateway             `yaml:"gateway"`
}

// Log selects the daemon's log/slog handler.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json, text
}

// Ops is the operations listener: /healthz, /readyz and /metrics.
// Without a certificate it speaks plain HTTP and must listen on loopback.
type Ops struct {
	Address     string `yaml:"address"`
	Certificate string `yaml:"certificate"`
}

// PKI is the embedded certificate authority (see `fapid pki init`). The
// online CA is not part of the daemon: it runs as `fapid-ca serve`, and
// certificates reach it through certificates.NAME.embedded.ca_url.
type PKI struct {
	Dir string `yaml:"dir"`
}

// Certificate is a named certificate source: files on disk (reloaded when
// they change) or a certificate obtained from the embedded CA and renewed.
type Certificate struct {
	CertFile string        `yaml:"cert_file"`
	Key      SecretRef     `yaml:"key"`
	Embedded *EmbeddedCert `yaml:"embedded"`
}

// EmbeddedCert asks the embedded CA for a short-lived certificate.
// Without CAURL the daemon signs in-process with the CA in pki.dir.
type EmbeddedCert struct {
	CommonName     string        `yaml:"common_name"`
	SANs           []string      `yaml:"sans"`
	Usage          []string      `yaml:"usage"` // server, client
	Lifetime       time.Duration `yaml:"lifetime"`
	CAURL          string        `yaml:"ca_url"`
	RootFile       string        `yaml:"root_file"`
	Provisioner    string        `yaml:"provisioner"`
	ProvisionerKey SecretRef     `yaml:"provisioner_key"`
}

// Listener is a TLS listener (FAPI 2.0 §5.2: TLS only).
type Listener struct {
	Name        string `yaml:"name"`
	Address     string `yaml:"address"`
	Certificate string `yaml:"certificate"`
	ClientAuth  string `yaml:"client_auth"` // none, request, require
	ClientCA    string `yaml:"client_ca"`
	HSTS        *bool  `yaml:"hsts"` // browser-facing: default true
}

// SecretRef names a secret without holding it: "file:PATH" or "pkcs11:URI".
type SecretRef string

// Scheme returns "file" or "pkcs11", or "" when the reference has neither.
func (r SecretRef) Scheme() string {
	switch {
	case len(r) > 5 && r[:5] == "file:":
		return "file"
	case len(r) > 7 && r[:7] == "pkcs11:":
		return "pkcs11"
	}
	return ""
}

// Path returns the file path of a "file:" reference.
func (r SecretRef) Path() string {
	if r.Scheme() != "file" {
		return ""
	}
	return string(r[5:])
}
