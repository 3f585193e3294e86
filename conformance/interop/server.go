package interop

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server is a running reference authorization server (one node process group).
type Server struct {
	issuer string
	pgid   int
	roots  *x509.CertPool
	stdin  io.Closer
	stderr *tail

	done     chan struct{} // closed when node has exited and been reaped
	waitErr  error         // valid after done
	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error
}

const stopGrace = 5 * time.Second

// Start installs the pinned npm packages if needed, writes the configuration into o.Dir, starts
// the server and waits until it listens. ctx bounds the start only; the server runs until
// [Server.Stop]. A missing or too old Node.js gives an error wrapping [ErrNoNode].
func Start(ctx context.Context, o Options) (*Server, error) {
	if err := platformOK(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interop: start: %w", context.Cause(ctx))
	}
	o.setDefaults()
	cfg, err := o.validate()
	if err != nil {
		return nil, err
	}
	roots, err := loadPool(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	node, err := findNode(ctx, o.Node)
	if err != nil {
		return nil, err
	}
	dir, err := opDir()
	if err != nil {
		return nil, err
	}
	if err := ensureDeps(ctx, dir, node); err != nil {
		return nil, err
	}
	cfgPath, err := writeConfig(o.Dir, cfg)
	if err != nil {
		return nil, err
	}
	return launch(ctx, o, node, dir, cfgPath, roots)
}

func writeConfig(dir string, cfg *nodeConfig) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("interop: state dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("interop: state dir: %w", err)
	}
	cfg.JWKSFile = filepath.Join(abs, "op-jwks.json")
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", fmt.Errorf("interop: config: %w", err)
	}
	path := filepath.Join(abs, "op-config.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("interop: config: %w", err)
	}
	return path, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("interop: CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%w: CA bundle %s has no PEM certificate", ErrOptions, path)
	}
	return pool, nil
}

func launch(ctx context.Context, o Options, node, dir, cfgPath string, roots *x509.CertPool) (*Server, error) {
	s := &Server{roots: roots, stderr: &tail{max: 8 << 10}, done: make(chan struct{})}
	var errOut io.Writer = s.stderr
	if o.Stderr != nil {
		errOut = io.MultiWriter(s.stderr, &lockedWriter{w: o.Stderr})
	}
	cmd := exec.Command(node, filepath.Join(dir, "server.mjs"), cfgPath)
	cmd.Dir = dir
	cmd.Stderr = errOut
	cmd.WaitDelay = stopGrace
	ownGroup(cmd)
	stdin, err := cmd.StdinPipe() // node exits when this closes: no orphan if we die
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start node: %w", err)
	}
	s.pgid, s.stdin = cmd.Process.Pid, stdin
	ready := make(chan string, 1)
	go s.readStdout(stdout, ready, errOut)
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()

	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case iss := <-ready:
		u, err := url.Parse(iss)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			s.Stop()
			return nil, fmt.Errorf("interop: server announced a bad issuer %q", iss)
		}
		s.issuer = iss
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("interop: node exited before it was ready: %v\n%s", s.waitErr, s.stderr.lines(20))
	case <-timer.C:
		s.Stop()
		return nil, fmt.Errorf("interop: node not ready after %v\n%s", o.StartTimeout, s.stderr.lines(20))
	case <-ctx.Done():
		s.Stop()
		return nil, fmt.Errorf("interop: start: %w", context.Cause(ctx))
	}
}

// readStdout hands the READY line's issuer to ready and copies any other line to out.
func (s *Server) readStdout(r io.Reader, ready chan<- string, out io.Writer) {
	sc := bufio.NewScanner(r)
	announced := false
	for sc.Scan() {
		line := sc.Text()
		if iss, ok := strings.CutPrefix(line, "READY "); ok && !announced {
			announced = true
			ready <- strings.TrimSpace(iss)
			continue
		}
		fmt.Fprintln(out, line)
	}
	io.Copy(io.Discard, r) // keep draining after a scanner error (over-long line)
}

// Issuer is the server's issuer identifier, e.g. "https://127.0.0.1:40123" (no trailing slash).
func (s *Server) Issuer() string { return s.issuer }

// PID is the node process id, which is also its process group id.
func (s *Server) PID() int { return s.pgid }

// Done is closed when the node process has exited (after Stop, or on a crash).
func (s *Server) Done() <-chan struct{} { return s.done }

// Roots is the CA pool from Options.CAFile, which the [Browser] uses to trust the server.
func (s *Server) Roots() *x509.CertPool { return s.roots }

// Stop ends the server's whole process group: SIGTERM, then SIGKILL after a grace period. It
// waits for node to be reaped. It returns an error if node had already died on its own.
// Calling Stop again returns the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	select {
	case <-s.done:
		if !GroupAlive(s.pgid) {
			return s.crashErr()
		}
	default:
	}
	s.stopping.Store(true)
	s.stdin.Close()
	err := signalGroup(s.pgid, syscall.SIGTERM)
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		err = errors.Join(err, signalGroup(s.pgid, syscall.SIGKILL))
		<-s.done
	}
	// node forks nothing, but make sure no member of the group outlives Stop.
	if GroupAlive(s.pgid) {
		err = errors.Join(err, signalGroup(s.pgid, syscall.SIGKILL))
	}
	return err
}

func (s *Server) crashErr() error {
	if s.stopping.Load() || s.waitErr == nil {
		return nil
	}
	return fmt.Errorf("interop: node had exited: %w\n%s", s.waitErr, s.stderr.lines(20))
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) lines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLines(string(t.buf), n)
}

// lockedWriter serialises writes to the caller's Stderr and ignores its errors, so a broken
// writer can never block node on a full pipe.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(p)
	return len(p), nil
}
