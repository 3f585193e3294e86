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
	if f.PKI != nil && f.PKI.Serve != nil && f.PKI.Serve.Provisioner == "" {
		f.PKI.Serve.Provisioner = "fapid"
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
