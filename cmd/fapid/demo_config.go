package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"text/template"
)

// demoConfig fills the fapid.yaml template.
type demoConfig struct {
	Domain       string
	APIPort      int
	SPAOrigin    string
	Issuer       string
	UpstreamPort int
	AgentID      string
	GatewayID    string
	CADir        string
	AgentKey     string
	SessionKey   string
}

func (c demoConfig) APIHost() string { return "api." + c.Domain }
func (c demoConfig) APIOrigin() string {
	return "https://api." + c.Domain + ":" + strconv.Itoa(c.APIPort)
}

// demoYAML is the daemon's configuration: agent and gateway on one listener
// (the API host of the demo's site), certificates from the embedded CA.
// Relative paths are resolved against the file's folder.
var demoYAML = template.Must(template.New("fapid.yaml").Funcs(template.FuncMap{"q": yamlQuote}).Parse(
	`# fapid demo configuration. ` + "`fapid demo`" + ` rewrites this file on every start.
# The same daemon runs alone with: fapid run -c fapid.yaml
# (the authorization server, the example API and the SPA are started by ` + "`fapid demo`" + `).
log:
  level: info
  format: text
shutdown_grace: 5s

# The embedded CA (created once in ca/): fapid obtains its own certificates from
# it at start and renews them at about 2/3 of their life.
pki:
  dir: {{q .CADir}}
certificates:
  api-server: # the listener the browser talks to
    embedded:
      common_name: {{q .APIHost}}
      sans: [{{q .APIHost}}]
      usage: [server]
  agent-client: # the agent's identity: mTLS to the authorization server (tokens are bound to it) and to the API
    embedded:
      common_name: {{q .AgentID}}
      sans: [{{q (printf "spiffe://%s/agent" .Domain)}}]
      usage: [client]
  gateway-client: # the gateway's introspection client (tls_client_auth: the server matches the subject)
    embedded:
      common_name: {{q .GatewayID}}
      sans: [{{q (printf "spiffe://%s/gateway" .Domain)}}]
      usage: [client]

listeners:
  - name: public
    address: {{q (printf "127.0.0.1:%d" .APIPort)}}
    certificate: api-server
    client_auth: request # browsers send none; mTLS clients may (certificate-bound bearer tokens)
    client_ca: {{q (printf "%s/root_ca.crt" .CADir)}}

authorization_server:
  issuer: {{q .Issuer}}
  ca_file: {{q (printf "%s/root_ca.crt" .CADir)}}

session:
  cookie_prefix: fapid
  keys: [{{q (printf "file:%s" .SessionKey)}}]
  trusted_origins: [{{q .SPAOrigin}}]

agent:
  listener: public
  client:
    id: {{q .AgentID}}
    auth: private_key_jwt
    key: {{q (printf "file:%s" .AgentKey)}}
    certificate: agent-client
  sender_constraint: mtls
  response_mode: jarm
  scopes: [openid, offline_access, profile, email]
  redirect_uri: {{q (printf "%s/callback" .SPAOrigin)}}
  post_logout_redirect_uri: {{q (printf "%s/" .SPAOrigin)}}

gateway:
  listener: public
  public_origin: {{q .APIOrigin}}
  session_certificate: agent-client
  introspection:
    client:
      id: {{q .GatewayID}}
      auth: tls_client_auth
      certificate: gateway-client
    mode: rfc9701
    forward: received
  routes:
    - prefix: /api/
      upstream: {{q (printf "https://127.0.0.1:%d" .UpstreamPort)}}
      upstream_ca: {{q (printf "%s/root_ca.crt" .CADir)}}
      upstream_certificate: agent-client # the API checks cnf x5t#S256 against this certificate
      credentials: [cookie, bearer]
`))

// yamlQuote writes s as a YAML double-quoted scalar (JSON string syntax is
// valid YAML).
func yamlQuote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// writeDemoConfig renders the configuration to path (0600).
func writeDemoConfig(path string, c demoConfig) error {
	var b bytes.Buffer
	if err := demoYAML.Execute(&b, c); err != nil {
		return fmt.Errorf("fapid.yaml: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("fapid.yaml: %w", err)
	}
	return nil
}
