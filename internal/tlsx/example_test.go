package tlsx_test

import (
	"fmt"
	"net/http"

	"github.com/cillers/fapid/internal/tlsx"
)

func ExampleParseClientAuth() {
	for _, s := range []string{"none", "request", "require", "optional"} {
		mode, err := tlsx.ParseClientAuth(s)
		fmt.Println(mode, err)
	}
	// Output:
	// none <nil>
	// request <nil>
	// require <nil>
	// none tlsx: client auth "optional": want none, request or require
}

// A listener whose certificate the embedded CA renews in place, requiring
// client certificates from one CA.
func ExampleServerConfig() {
	holder := tlsx.NewHolder(nil) // the pki renewer calls holder.Set
	clientCAs, err := tlsx.LoadCertPool("/etc/fapid/client-ca.pem")
	if err != nil {
		return
	}
	cfg, err := tlsx.ServerConfig(tlsx.ServerOptions{
		Source:     holder,
		ClientAuth: tlsx.RequireClientCert,
		ClientCAs:  clientCAs,
	})
	if err != nil {
		return
	}
	srv := &http.Server{Handler: tlsx.HSTS(http.NotFoundHandler()), TLSConfig: cfg}
	_ = srv.ListenAndServeTLS("", "") // certificate comes from holder
}
