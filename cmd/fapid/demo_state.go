package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/keys"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/pki"
)

// The demo's state folder. Everything secret or slow to make is created once
// and reused: the CA, the agent's signing key and the cookie key (so a
// browser session survives a restart). Leaf certificates are issued afresh
// on every start; fapid.yaml and the authorization server's configuration
// are rewritten on every start.
const (
	demoCADir          = "ca"
	demoAgentKeyFile   = "keys/agent.key"   // private_key_jwt and request objects (ES256)
	demoSessionKeyFile = "keys/session.key" // 64 hex characters: seals the cookies
	demoASCertFile     = "certs/as.crt"     // the reference authorization server's TLS certificate
	demoASKeyFile      = "certs/as.key"
	demoOPDir          = "op" // the authorization server's own state (its signing keys)
	demoConfigFile     = "fapid.yaml"
)

// Client ids registered at the reference authorization server, and the
// subject of the gateway's client certificate (tls_client_auth matches it).
const (
	demoAgentClientID   = "fapid-demo-agent"
	demoGatewayClientID = "fapid-demo-gateway"
)

// demoState is the opened state folder.
type demoState struct {
	dir         string // absolute
	ca          *pki.CA
	agentSigner *jws.Signer // the agent's key as fapid loads it (kid = RFC 7638 thumbprint)
	created     []string    // what this start created (for the log)
}

func (s *demoState) path(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

// openDemoState creates what is missing in dir and opens the rest.
func openDemoState(ctx context.Context, dir string) (*demoState, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	s := &demoState{dir: abs}
	for _, d := range []string{"", "keys", "certs", demoOPDir} {
		if err := os.MkdirAll(s.path(d), 0o700); err != nil {
			return nil, fmt.Errorf("state folder: %w", err)
		}
	}
	if s.ca, err = s.openCA(); err != nil {
		return nil, err
	}
	key, err := s.agentKey(ctx)
	if err != nil {
		return nil, err
	}
	kid, err := jws.Thumbprint(key.Public())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", demoAgentKeyFile, err)
	}
	if s.agentSigner, err = jws.NewSigner(key, kid); err != nil {
		return nil, fmt.Errorf("%s: %w", demoAgentKeyFile, err)
	}
	if a := s.agentSigner.Alg(); a != jws.ES256 && a != jws.PS256 {
		return nil, fmt.Errorf("%s: a %s key; the reference authorization server takes ES256 or PS256 keys: delete the file to get a new one", s.path(demoAgentKeyFile), a)
	}
	if err := s.sessionKey(); err != nil {
		return nil, err
	}
	return s, nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (s *demoState) openCA() (*pki.CA, error) {
	dir := s.path(demoCADir)
	ok, err := exists(filepath.Join(dir, pki.RootCertFile))
	if err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	if ok {
		ca, err := pki.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("demo CA in %s: %w (delete the folder to start afresh)", dir, err)
		}
		return ca, nil
	}
	ca, err := pki.Init(dir, pki.InitOptions{Name: "fapid demo CA"})
	if err != nil {
		return nil, fmt.Errorf("demo CA: %w", err)
	}
	s.created = append(s.created, demoCADir+"/")
	return ca, nil
}

func (s *demoState) agentKey(ctx context.Context) (crypto.Signer, error) {
	path := s.path(demoAgentKeyFile)
	ok, err := exists(path)
	if err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	if ok {
		k, err := keys.Load(ctx, "file:"+path)
		if err != nil {
			return nil, fmt.Errorf("agent key: %w", err)
		}
		return k, nil
	}
	k, err := keys.GenerateFile(path, jws.ES256)
	if err != nil {
		return nil, fmt.Errorf("agent key: %w", err)
	}
	s.created = append(s.created, demoAgentKeyFile)
	return k, nil
}

func (s *demoState) sessionKey() error {
	path := s.path(demoSessionKeyFile)
	ok, err := exists(path)
	if err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	if ok {
		if _, err := seal.LoadKeyFile(path); err != nil {
			return fmt.Errorf("session key: %w", err)
		}
		return nil
	}
	text, err := seal.GenerateKeyText()
	if err != nil {
		return fmt.Errorf("session key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("session key: %w", err)
	}
	_, err = f.WriteString(text + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("session key: %w", err)
	}
	s.created = append(s.created, demoSessionKeyFile)
	return nil
}

// issueFiles issues a leaf and writes it to certRel/keyRel, replacing the
// previous start's files.
func (s *demoState) issueFiles(ctx context.Context, r pki.IssueRequest, certRel, keyRel string) error {
	iss, err := s.ca.Issue(ctx, r)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", r.CommonName, err)
	}
	certPath, keyPath := s.path(certRel), s.path(keyRel)
	for _, p := range []string{certPath, keyPath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("certificate %s: %w", r.CommonName, err)
		}
	}
	if err := pki.WriteIssued(iss, certPath, keyPath); err != nil {
		return fmt.Errorf("certificate %s: %w", r.CommonName, err)
	}
	return nil
}

// agentJWKS is the public JWKS of the agent's key, registered at the
// authorization server.
func (s *demoState) agentJWKS() ([]byte, error) {
	return jws.PublicJWKS(jws.PublicKey{Key: s.agentSigner.Public(), KeyID: s.agentSigner.KeyID(), Alg: s.agentSigner.Alg()})
}

func (s *demoState) logCreated(log *slog.Logger) {
	if len(s.created) > 0 {
		log.Info("demo state created", "dir", s.dir, "files", s.created)
	} else {
		log.Info("demo state reused", "dir", s.dir)
	}
}
