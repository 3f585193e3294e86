//go:build !(cgo && pkcs11)

package keys

// newPKCS11Loader returns the PKCS#11 loader of this build. A build with cgo
// and the "pkcs11" tag provides a real one (pkcs11.go, over
// go.step.sm/crypto/kms/pkcs11); every other build refuses pkcs11: references.
func newPKCS11Loader() Loader { return unsupportedPKCS11{} }
