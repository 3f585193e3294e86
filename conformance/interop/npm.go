package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ErrNoNode means Node.js (20 or later) or npm is missing. Tests skip on it outside CI.
var ErrNoNode = errors.New("interop: Node.js 20+ is required: apt-get install nodejs npm")

const (
	minNodeMajor = 20
	stampName    = ".fapid-lock-sha256" // inside node_modules: npm ci removes it with the tree
	lockName     = ".install.lock"      // in op/, git-ignored
)

// opDir finds conformance/interop/op: next to this source file (tests, go run, go build without
// -trimpath), else by walking up from the working directory to the module root.
func opDir() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "op")
		if isOPDir(d) {
			return d, nil
		}
		tried = append(tried, d)
	}
	wd, err := os.Getwd()
	if err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			c := filepath.Join(d, "conformance", "interop", "op")
			if isOPDir(c) {
				return c, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		tried = append(tried, wd+" and its parents")
	}
	return "", fmt.Errorf("interop: cannot find conformance/interop/op (looked at %s); run from inside the fapid repository", strings.Join(tried, ", "))
}

func isOPDir(d string) bool {
	for _, f := range []string{"server.mjs", "package.json", "package-lock.json"} {
		if _, err := os.Stat(filepath.Join(d, f)); err != nil {
			return false
		}
	}
	return true
}

// findNode resolves the node binary and checks its major version.
func findNode(ctx context.Context, name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w (%s not found)", ErrNoNode, name)
	}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if ctx.Err() != nil {
		return "", fmt.Errorf("interop: %s --version: %w", path, context.Cause(ctx))
	}
	if err != nil {
		return "", fmt.Errorf("%w (%s --version: %v)", ErrNoNode, path, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil || major < minNodeMajor {
		return "", fmt.Errorf("%w (found %q)", ErrNoNode, strings.TrimSpace(string(out)))
	}
	return path, nil
}

// findNPM looks for npm next to node first (a node from a tarball or nvm), then on PATH.
func findNPM(node string) (string, error) {
	if p := filepath.Join(filepath.Dir(node), "npm"); isExecutable(p) {
		return p, nil
	}
	p, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%w (npm not found)", ErrNoNode)
	}
	return p, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// ensureDeps runs `npm ci` in dir when node_modules is missing or was installed from another
// package-lock.json. An exclusive file lock serialises concurrent test binaries.
func ensureDeps(ctx context.Context, dir, node string) error {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", stampName)
	if installed(stamp, want) {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, lockName))
	if err != nil {
		return err
	}
	defer unlock()
	if installed(stamp, want) { // another process installed while we waited
		return nil
	}
	npm, err := findNPM(node)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = dir
	// npm runs node scripts; make sure it finds the same node we checked.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("interop: npm ci in %s: %w\n%s", dir, err, lastLines(out.String(), 15))
	}
	if err := os.WriteFile(stamp, []byte(want+"\n"), 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	return nil
}

func installed(stamp, want string) bool {
	b, err := os.ReadFile(stamp)
	return err == nil && strings.TrimSpace(string(b)) == want
}

// lastLines returns the last n non-empty lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
