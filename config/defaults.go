package config

import "time"

// Defaults fills every unset value that has a safe default. It is the only
// place defaults live.
func Defaults(f *File) {
	if f.Log.Level == "" {
		f.Log.Level = "info"
	}
	if f.Log.Format == "" {
		f.Log.Format = "json"
	}
	if f.ShutdownGrace == 0 {
		f.ShutdownGrace = 15 * time.Second
	}
	for name, c := range f.Certificates {
		if e := c.Embedded; e != nil {
			d := *e
			if d.Lifetime == 0 {
				d.Lifetime = 24 * time.Hour
			}
			if d.CAURL != "" && d.Provisioner == "" {
				d.Provisioner = "fapid"
			}
			c.Embedded = &d
			f.Certificates[name] = c
		}
	}
	defaultModes(f)
	for i := range f.Listeners {
		l := &f.Listeners[i]
		if l.ClientAuth == "" {
			l.ClientAuth = "none"
		}
		if l.HSTS == nil {
			t := true
			l.HSTS = &t
		}
	}
}

func defaultModes(f *File) {
	t := true
	if as := f.AuthorizationServer; as != nil && as.UseMTLSEndpointAliases == nil {
		as.UseMTLSEndpointAliases = &t
	}
	if s := f.Session; s != nil && s.CookiePrefix == "" {
		s.CookiePrefix = "fapid"
	}
	if a := f.Agent; a != nil {
		if a.BasePath == "" {
			a.BasePath = "/oauth-agent"
		}
		if a.Client.Auth == "" {
			a.Client.Auth = "private_key_jwt"
		}
		if a.SenderConstraint == "" {
			a.SenderConstraint = "mtls"
		}
		if a.ResponseMode == "" {
			a.ResponseMode = "jarm"
		}
		if len(a.Scopes) == 0 {
			a.Scopes = []string{"openid"}
		}
	}
	if g := f.Gateway; g != nil {
		if g.HTTP3 == nil {
			g.HTTP3 = &t
		}
		in := &g.Introspection
		if in.Client.Auth == "" {
			in.Client.Auth = "tls_client_auth"
		}
		if in.Mode == "" {
			in.Mode = "rfc9701"
		}
		if in.Forward == "" {
			in.Forward = "received"
		}
		if in.Timeout == 0 {
			in.Timeout = 2 * time.Second
		}
		for i := range g.Routes {
			r := &g.Routes[i]
			if r.UpstreamCertificate == "" {
				r.UpstreamCertificate = g.SessionCertificate
			}
			if len(r.Credentials) == 0 && !r.Anonymous {
				r.Credentials = []string{"cookie", "bearer", "dpop"}
			}
		}
	}
}
