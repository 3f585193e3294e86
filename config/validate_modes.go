package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// modes validates the authorization_server, session, agent and gateway
// sections.
func (v *validator) modes(f *File) {
	if f.Agent == nil && f.Gateway == nil {
		return
	}
	if f.AuthorizationServer == nil {
		v.add("authorization_server", "required when agent or gateway is enabled")
	} else {
		v.httpsURL("authorization_server.issuer", f.AuthorizationServer.Issuer, false)
	}
	if a := f.Agent; a != nil {
		v.agent(f, a)
	}
	if g := f.Gateway; g != nil {
		v.gateway(f, g)
	}
}

// httpsURL requires an absolute https URL; origin forbids a path.
func (v *validator) httpsURL(path, s string, origin bool) {
	if !v.required(path, s) {
		return
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		v.add(path, "must be an absolute https URL (FAPI 2.0 §5.2.1-1: TLS only)")
		return
	}
	if origin && (u.Path != "" || u.RawQuery != "") {
		v.add(path, "must be an origin: https://host[:port] without a path")
	}
}

func (v *validator) listenerRef(f *File, path, name string) {
	if !v.required(path, name) {
		return
	}
	for _, l := range f.Listeners {
		if l.Name == name {
			return
		}
	}
	v.add(path, "no listener named %q", name)
}

func (v *validator) session(f *File, path string) {
	s := f.Session
	if s == nil {
		v.add("session", "required by %s (cookie keys and trusted origins)", path)
		return
	}
	if len(s.Keys) == 0 {
		v.add("session.keys", "required: at least one file: reference to a 64-hex-character key")
	}
	for i, k := range s.Keys {
		v.secret(fmt.Sprintf("session.keys[%d]", i), k, "file")
	}
	if len(s.TrustedOrigins) == 0 {
		v.add("session.trusted_origins", "required: the exact origins of your single-page apps")
	}
	for i, o := range s.TrustedOrigins {
		p := fmt.Sprintf("session.trusted_origins[%d]", i)
		if strings.Contains(o, "*") {
			v.add(p, "wildcards are not allowed: list each origin exactly")
			continue
		}
		v.httpsURL(p, o, true)
	}
	if strings.ContainsAny(s.CookiePrefix, " ;,=\t\r\n") {
		v.add("session.cookie_prefix", "must be a cookie-name token")
	}
}

func (v *validator) oauthClient(f *File, path string, c OAuthClient) {
	v.required(path+".id", c.ID)
	v.oneOf(path+".auth", c.Auth, "private_key_jwt", "tls_client_auth")
	if c.Auth == "private_key_jwt" || c.Key != "" {
		v.secret(path+".key", c.Key, "file", "pkcs11")
	}
	if c.Auth == "tls_client_auth" || c.Certificate != "" {
		v.clientCertRef(f, path+".certificate", c.Certificate)
	}
}

func (v *validator) clientCertRef(f *File, path, name string) {
	v.certRef(f, path, name)
	if c, ok := f.Certificates[name]; ok && c.Embedded != nil && !slices.Contains(c.Embedded.Usage, "client") {
		v.add(path, "certificate %q is not issued for client use", name)
	}
}

func (v *validator) agent(f *File, a *Agent) {
	v.listenerRef(f, "agent.listener", a.Listener)
	if !strings.HasPrefix(a.BasePath, "/") || strings.HasSuffix(a.BasePath, "/") || strings.Contains(a.BasePath, "..") {
		v.add("agent.base_path", "must start with / and not end with /")
	}
	v.oauthClient(f, "agent.client", a.Client)
	if a.Client.Key == "" {
		v.add("agent.client.key", "required: request objects are signed (FAPI 2.0 Message Signing)")
	}
	v.oneOf("agent.sender_constraint", a.SenderConstraint, "mtls", "dpop")
	switch a.SenderConstraint {
	case "mtls":
		if a.Client.Certificate == "" {
			v.add("agent.client.certificate", "required for sender_constraint mtls (RFC 8705)")
		}
	case "dpop":
		v.secret("agent.dpop_key", a.DPoPKey, "file", "pkcs11")
	}
	v.oneOf("agent.response_mode", a.ResponseMode, "jarm", "query")
	v.httpsURL("agent.redirect_uri", a.RedirectURI, false)
	if a.PostLogoutRedirectURI != "" {
		v.httpsURL("agent.post_logout_redirect_uri", a.PostLogoutRedirectURI, false)
	}
	v.oneOf("agent.compat", a.Compat, "", "curity-v1")
	v.session(f, "agent")
}

func (v *validator) gateway(f *File, g *Gateway) {
	v.listenerRef(f, "gateway.listener", g.Listener)
	if g.PublicOrigin != "" {
		v.httpsURL("gateway.public_origin", g.PublicOrigin, true)
	}
	in := g.Introspection
	v.oauthClient(f, "gateway.introspection.client", in.Client)
	v.oneOf("gateway.introspection.mode", in.Mode, "curity", "rfc9701", "json")
	v.oneOf("gateway.introspection.forward", in.Forward, "received", "mint")
	if (in.Forward == "mint" || in.Mode == "json") && g.SigningKey == "" {
		v.add("gateway.signing_key", "required to mint tokens (introspection mode json or forward mint)")
	}
	if g.SigningKey != "" {
		v.secret("gateway.signing_key", g.SigningKey, "file", "pkcs11")
	}
	if g.SessionCertificate != "" {
		v.clientCertRef(f, "gateway.session_certificate", g.SessionCertificate)
	}
	for i, p := range g.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			v.add(fmt.Sprintf("gateway.trusted_proxies[%d]", i), "must be a CIDR prefix such as 192.0.2.10/32")
		}
	}
	if g.ForwardAuthPath != "" && !strings.HasPrefix(g.ForwardAuthPath, "/") {
		v.add("gateway.forward_auth_path", "must start with /")
	}
	if len(g.Routes) == 0 {
		v.add("gateway.routes", "required: at least one route")
	}
	cookie := false
	for i, r := range g.Routes {
		p := fmt.Sprintf("gateway.routes[%d]", i)
		if !strings.HasPrefix(r.Prefix, "/") {
			v.add(p+".prefix", "must start with /")
		}
		if r.Upstream != "" {
			v.httpsURL(p+".upstream", r.Upstream, false)
		}
		if r.UpstreamPublicURL != "" {
			v.httpsURL(p+".upstream_public_url", r.UpstreamPublicURL, false)
		}
		if r.UpstreamCertificate != "" {
			v.clientCertRef(f, p+".upstream_certificate", r.UpstreamCertificate)
		}
		for j, c := range r.Credentials {
			v.oneOf(fmt.Sprintf("%s.credentials[%d]", p, j), c, "cookie", "bearer", "dpop")
			cookie = cookie || c == "cookie"
		}
		if r.Anonymous && len(r.Scopes) > 0 {
			v.add(p+".scopes", "an anonymous route cannot require scopes")
		}
	}
	if cookie {
		v.session(f, "gateway routes accepting cookies")
	}
	if g.Cache.MaxEntries < 0 || g.Cache.MaxTTL < 0 || g.Cache.NegativeTTL < 0 {
		v.add("gateway.cache", "values must not be negative")
	}
}
