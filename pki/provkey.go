package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"

	"go.step.sm/crypto/jose"
)

// ProvisionerKeyFileName is the default provisioner key file inside the CA
// directory.
const ProvisionerKeyFileName = "provisioner_key.json"

// ErrBadProvisionerKey wraps every problem with a provisioner key file.
var ErrBadProvisionerKey = errors.New("pki: invalid provisioner key")

// LoadProvisionerKey reads the provisioner's private JWK (EC P-256, with a
// kid) from path. Every error wraps [ErrBadProvisionerKey]; a missing file
// also wraps fs.ErrNotExist.
func LoadProvisionerKey(path string) (*jose.JSONWebKey, error) {
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
