package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Validate checks a defaulted File and returns every problem found. It reads
// nothing but f and changes nothing.
func Validate(f *File) Problems {
	var v validator
	v.oneOf("log.level", f.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", f.Log.Format, "json", "text")
	if f.ShutdownGrace <= 0 || f.ShutdownGrace > 5*time.Minute {
		v.add("shutdown_grace", "must be between 0s and 5m")
	}
	v.ops(f)
	v.pki(f)
	names := make([]string, 0, len(f.Certificates))
	for name := range f.Certificates {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v.certificate(f, name, f.Certificates[name])
	}
	seen := map[string]bool{}
	for i, l := range f.Listeners {
		v.listener(f, fmt.Sprintf("listeners[%d]", i), l, seen)
	}
	v.modes(f)
	v.distinctAddresses(f)
	if len(f.Listeners) == 0 && f.Ops.Address == "" {
		v.add("listeners", "nothing to run: configure at least one listener or ops.address")
	}
	return v.probs
}

type validator struct{ probs Problems }

func (v *validator) add(path, format string, args ...any) {
	v.probs = append(v.probs, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(path, got string, allowed ...string) {
	if !slices.Contains(allowed, got) {
		v.add(path, "must be one of %v", allowed)
	}
}

func (v *validator) required(path, got string) bool {
	if got == "" {
		v.add(path, "required")
		return false
	}
	return true
}

// hostPort requires host:port with a numeric port.
func (v *validator) hostPort(path, addr string) (host string, ok bool) {
	if !v.required(path, addr) {
		return "", false
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "must be host:port")
		return "", false
	}
	if _, err := netip.ParseAddr(h); err != nil && h != "" && h != "localhost" {
		v.add(path, "host must be an IP address, localhost, or empty for all interfaces")
		return "", false
	}
	if _, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil {
		v.add(path, "port must be a number from 0 to 65535")
		return "", false
	}
	return h, true
}

// secret checks a reference without ever echoing its value: a value that is
// not a reference may be a secret pasted inline.
func (v *validator) secret(path string, r SecretRef, schemes ...string) {
	if r == "" {
		v.add(path, "required")
		return
	}
	s := r.Scheme()
	if s == "" {
		v.add(path, "must be a reference (file:PATH or pkcs11:URI); secrets are never written inline")
		return
	}
	if !slices.Contains(schemes, s) {
		v.add(path, "must be a %v reference", schemes)
	}
}

func (v *validator) certRef(f *File, path, name string) {
	if !v.required(path, name) {
		return
	}
	if _, ok := f.Certificates[name]; !ok {
		v.add(path, "no certificate named %q under certificates", name)
	}
}

func (v *validator) ops(f *File) {
	if f.Ops.Address == "" {
		if f.Ops.Certificate != "" {
			v.add("ops.address", "required when ops.certificate is set")
		}
		return
	}
	host, ok := v.hostPort("ops.address", f.Ops.Address)
	if f.Ops.Certificate != "" {
		v.certRef(f, "ops.certificate", f.Ops.Certificate)
		return
	}
	if ok && !isLoopback(host) {
		v.add("ops.address", "plain HTTP is allowed on loopback only; set ops.certificate to serve it over TLS")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func (v *validator) pki(f *File) {
	if f.PKI == nil {
		return
	}
	v.required("pki.dir", f.PKI.Dir)
}

func (v *validator) certificate(f *File, name string, c Certificate) {
	path := "certificates." + name
	fromFile := c.CertFile != "" || c.Key != ""
	switch {
	case fromFile && c.Embedded != nil:
		v.add(path, "set either cert_file and key, or embedded, not both")
		return
	case !fromFile && c.Embedded == nil:
		v.add(path, "set either cert_file and key, or embedded")
		return
	case fromFile:
		v.required(path+".cert_file", c.CertFile)
		// TLS keys in an HSM (pkcs11:) are not supported yet.
		v.secret(path+".key", c.Key, "file")
		return
	}
	e := c.Embedded
	ep := path + ".embedded"
	v.required(ep+".common_name", e.CommonName)
	if len(e.SANs) == 0 {
		v.add(ep+".sans", "required: at least one DNS name, IP address or URI")
	}
	if len(e.Usage) == 0 {
		v.add(ep+".usage", "required: server, client or both")
	}
	for i, u := range e.Usage {
		v.oneOf(fmt.Sprintf("%s.usage[%d]", ep, i), u, "server", "client")
	}
	if e.Lifetime < 5*time.Minute || e.Lifetime > 90*24*time.Hour {
		v.add(ep+".lifetime", "must be between 5m and 2160h")
	}
	if e.CAURL == "" {
		if f.PKI == nil {
			v.add(ep, "needs pki.dir (in-process CA) or ca_url (online CA)")
		}
		return
	}
	if u, err := url.Parse(e.CAURL); err != nil || u.Scheme != "https" || u.Host == "" {
		v.add(ep+".ca_url", "must be an https URL")
	}
	v.required(ep+".root_file", e.RootFile)
	v.required(ep+".provisioner", e.Provisioner)
	v.secret(ep+".provisioner_key", e.ProvisionerKey, "file")
}

func (v *validator) listener(f *File, path string, l Listener, seen map[string]bool) {
	if v.required(path+".name", l.Name) {
		if seen[l.Name] {
			v.add(path+".name", "duplicate listener name %q", l.Name)
		}
		seen[l.Name] = true
	}
	v.hostPort(path+".address", l.Address)
	v.certRef(f, path+".certificate", l.Certificate)
	if c, ok := f.Certificates[l.Certificate]; ok && c.Embedded != nil && !slices.Contains(c.Embedded.Usage, "server") {
		v.add(path+".certificate", "certificate %q is not issued for server use", l.Certificate)
	}
	v.oneOf(path+".client_auth", l.ClientAuth, "none", "request", "require")
	if l.ClientAuth != "none" && l.ClientCA == "" {
		v.add(path+".client_ca", "required when client_auth is %q", l.ClientAuth)
	}
}

// distinctAddresses refuses two listeners on one fixed address; port 0
// (any free port) may repeat.
func (v *validator) distinctAddresses(f *File) {
	seen := map[string]string{}
	use := func(path, addr string) {
		if addr == "" || strings.HasSuffix(addr, ":0") {
			return
		}
		if first, ok := seen[addr]; ok {
			v.add(path, "address %s is already used by %s", addr, first)
			return
		}
		seen[addr] = path
	}
	for i, l := range f.Listeners {
		use(fmt.Sprintf("listeners[%d].address", i), l.Address)
	}
	use("ops.address", f.Ops.Address)
}
