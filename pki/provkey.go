package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/keyutil"
)

// ProvisionerKeyFileName is the default provisioner key file inside the CA
// directory.
const ProvisionerKeyFileName = "provisioner_key.json"

// ErrBadProvisionerKey wraps every problem with a provisioner key file.
var ErrBadProvisionerKey = errors.New("pki: invalid provisioner key")

// loadProvisionerKey reads a private EC P-256 JWK from path.
func loadProvisionerKey(path string) (*jose.JSONWebKey, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadProvisionerKey, err)
	}
	k, err := parseProvisionerKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// parseProvisionerKey parses a private JWK and accepts only EC P-256 keys
// with a kid. Error messages never quote the input.
func parseProvisionerKey(b []byte) (*jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("%w: not a JSON web key", ErrBadProvisionerKey)
	}
	priv, ok := k.Key.(*ecdsa.PrivateKey)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: want a private EC key", ErrBadProvisionerKey)
	case priv.Curve != elliptic.P256():
		return nil, fmt.Errorf("%w: want curve P-256", ErrBadProvisionerKey)
	case k.KeyID == "":
		return nil, fmt.Errorf("%w: missing kid", ErrBadProvisionerKey)
	case k.Algorithm != "" && k.Algorithm != jose.ES256:
		return nil, fmt.Errorf("%w: alg must be ES256", ErrBadProvisionerKey)
	}
	k.Algorithm = jose.ES256
	return &k, nil
}

// generateProvisionerKey creates path (0600, refusing to overwrite) holding a
// new private JWK, and returns it.
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
	if err := writeExclusive(path, append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// loadOrCreateProvisionerKey loads path, or creates it when it does not
// exist. created reports which happened.
func loadOrCreateProvisionerKey(path string) (k *jose.JSONWebKey, created bool, err error) {
	k, err = loadProvisionerKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = generateProvisionerKey(path)
	if errors.Is(err, ErrExists) { // lost a race with another starter
		k, err = loadProvisionerKey(path)
		return k, false, err
	}
	return k, err == nil, err
}
