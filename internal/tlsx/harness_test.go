package tlsx

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// A real TLS echo server on 127.0.0.1 and a client that does one exchange.

// ioTimeout bounds every network step so a broken test fails instead of
// hanging; nothing waits on it for synchronisation.
const ioTimeout = 10 * time.Second

type handshakeResult struct {
	err   error
	state tls.ConnectionState
}

type echoServer struct {
	addr    string
	results chan handshakeResult
}

// startEcho listens with cfg, reports each connection's server-side
// handshake result on results, then echoes what the client sends.
func startEcho(t *testing.T, cfg *tls.Config) *echoServer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{addr: ln.Addr().String(), results: make(chan handshakeResult, 64)}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { s.handle(c.(*tls.Conn)) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *echoServer) handle(c *tls.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	err := c.HandshakeContext(ctx)
	s.results <- handshakeResult{err: err, state: c.ConnectionState()}
	if err != nil {
		return
	}
	io.Copy(c, c)
}

// result returns the server side of the next handshake.
func (s *echoServer) result(t *testing.T) handshakeResult {
	t.Helper()
	select {
	case r := <-s.results:
		return r
	case <-time.After(ioTimeout):
		t.Fatal("no handshake reached the server")
		return handshakeResult{}
	}
}

// dial connects, completes the client handshake and one echo exchange. In
// TLS 1.3 the server judges the client certificate after the client has
// finished its handshake, so a refusal may surface only in the exchange.
func dial(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: ioTimeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := nc.(*tls.Conn)
	if err := ping(c, "hello"); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// connect is dial for a connection that is not used afterwards.
func connect(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	c, err := dial(t, addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

func ping(c *tls.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo mismatch")
	}
	return nil
}

// wantRefused checks that both ends failed and the server gave the
// expected reason.
func wantRefused(t *testing.T, s *echoServer, clientErr error, serverReason string) {
	t.Helper()
	if clientErr == nil {
		t.Error("client: connection accepted, want refused")
	}
	r := s.result(t)
	if r.err == nil {
		t.Fatalf("server: handshake succeeded (version %x, suite %s), want %q",
			r.state.Version, tls.CipherSuiteName(r.state.CipherSuite), serverReason)
	}
	if !strings.Contains(r.err.Error(), serverReason) {
		t.Errorf("server: error %q, want it to contain %q", r.err, serverReason)
	}
}

// wantAccepted checks that both ends completed and returns the server side.
func wantAccepted(t *testing.T, s *echoServer, clientErr error) tls.ConnectionState {
	t.Helper()
	if clientErr != nil {
		t.Errorf("client: %v", clientErr)
	}
	r := s.result(t)
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	return r.state
}
