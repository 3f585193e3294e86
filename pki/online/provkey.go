package online

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/keyutil"

	"github.com/cillers/fapid/pki"
)

// generateProvisionerKey creates path (0600, refusing to overwrite with an
// error wrapping pki.ErrExists) holding a new private JWK, and returns it.
func generateProvisionerKey(path string) (*jose.JSONWebKey, error) {
	s, err := keyutil.GenerateDefaultSigner()
	if err != nil {
		return nil, fmt.Errorf("pki: provisioner key: %w", err)
	}
	k := &jose.JSONWebKey{Key: s, Algorithm: jose.ES256, Use: "sig"}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("pki: provisioner key: %w", err)
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	b, err := json.Marshal(k)
	if err != nil {
		return nil, errors.New("pki: provisioner key: cannot encode")
	}
	if err := pki.WriteFileExclusive(path, append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// loadOrCreateProvisionerKey loads path, or creates it when it does not
// exist. created reports which happened.
func loadOrCreateProvisionerKey(path string) (k *jose.JSONWebKey, created bool, err error) {
	k, err = pki.LoadProvisionerKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = generateProvisionerKey(path)
	if errors.Is(err, pki.ErrExists) { // lost a race with another starter
		k, err = pki.LoadProvisionerKey(path)
		return k, false, err
	}
	return k, err == nil, err
}
