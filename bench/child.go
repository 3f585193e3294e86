package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Servers run in child processes (this same binary, re-executed with
// roleEnv set) so that the load generator's CPU is never counted as server
// CPU, and so that one server's heap (the gateway's token cache after the
// uncached-token scenario, say) never changes another's GC work.
const roleEnv = "FAPIDBENCH_ROLE"

// Child roles.
const (
	roleBackends = "backends" // upstream API + authorization server stand-in
	roleBare     = "bare"     // httputil.ReverseProxy over TCP and HTTP/3
	roleGateway  = "gateway"  // gateway.New over TCP and HTTP/3
	roleAgent    = "agent"    // the OAuth Agent
)

// childConfig is what a child reads from stdin.
type childConfig struct {
	Role      string
	M         *material
	Issuer    string // authorization server stand-in (https URL)
	Upstream  string // upstream API (https URL)
	StaticJWT string // what the bare proxy forwards in Authorization
}

// childReady is the one JSON line a child writes to stdout once it serves.
type childReady struct {
	Control string // http://127.0.0.1:port: /cpu, /mem, /stats, /debug/pprof/
	TCP     string // host:port of the TLS listener
	UDP     string // host:port of the HTTP/3 listener, if any
	AS      string // backends: host:port of the authorization server stand-in
	Error   string // set instead when the child could not start
}

// MaybeChild runs a benchmark server and exits when the process was started
// as one (roleEnv set); otherwise it returns at once. Call it first thing
// in main and in TestMain.
func MaybeChild() {
	role := os.Getenv(roleEnv)
	if role == "" {
		return
	}
	if err := runChild(role, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "fapidbench %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild starts the role's servers, announces them and serves until
// stdin is closed.
func runChild(role string, in io.Reader, out io.Writer) error {
	br := bufio.NewReader(in)
	var cfg childConfig
	if err := json.NewDecoder(br).Decode(&cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		ready childReady
		stats func() map[string]int64
		err   error
	)
	switch role {
	case roleBackends:
		ready, stats, err = startBackends(ctx, &cfg)
	case roleBare:
		ready, err = startBare(ctx, &cfg)
	case roleGateway:
		ready, err = startGateway(ctx, &cfg)
	case roleAgent:
		ready, err = startAgent(ctx, &cfg)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err == nil {
		ready.Control, err = serveControl(ctx, stats)
	}
	if err != nil {
		ready = childReady{Error: err.Error()}
	}
	line, _ := json.Marshal(ready)
	if _, werr := fmt.Fprintf(out, "%s\n", line); werr != nil || err != nil {
		return errors.Join(err, werr)
	}
	_, _ = io.Copy(io.Discard, br) // until the parent closes stdin
	return nil
}

// serveControl serves the measurement endpoints on a loopback port.
func serveControl(ctx context.Context, stats func() map[string]int64) (string, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/cpu", func(w http.ResponseWriter, _ *http.Request) {
		d, err := processCPU()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSONValue(w, d.Nanoseconds())
	})
	mux.HandleFunc("/mem", func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		writeJSONValue(w, memCounters{Bytes: ms.TotalAlloc, Objects: ms.Mallocs, GCs: ms.NumGC})
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		m := map[string]int64{}
		if stats != nil {
			m = stats()
		}
		writeJSONValue(w, m)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

func writeJSONValue(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// child is a running server process seen from the harness.
type child struct {
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready childReady
	errs  *tailBuffer
	ctl   *http.Client
}

// startChild re-executes this binary as role and waits for its ready line.
func startChild(ctx context.Context, cfg childConfig) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+cfg.Role, "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true")
	cmd.SysProcAttr = childAttr()
	c := &child{role: cfg.Role, cmd: cmd, errs: &tailBuffer{max: 8 << 10},
		ctl: &http.Client{Timeout: 30 * time.Second}}
	cmd.Stderr = c.errs
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", cfg.Role, err)
	}
	if err := json.NewEncoder(c.stdin).Encode(cfg); err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: configure %s: %w", cfg.Role, err)
	}
	line := make(chan error, 1)
	go func() {
		s, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil {
			err = json.Unmarshal([]byte(s), &c.ready)
		}
		line <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err = <-line:
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(60 * time.Second):
		err = errors.New("no ready line within 60 s")
	}
	if err == nil && c.ready.Error != "" {
		err = errors.New(c.ready.Error)
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: %s: %w (stderr: %s)", cfg.Role, err, c.errs.String())
	}
	return c, nil
}

// stop closes the child's stdin and waits for it to exit (killing it after
// 10 s).
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

func (c *child) get(path string, v any) error {
	res, err := c.ctl.Get(c.ready.Control + path)
	if err != nil {
		return fmt.Errorf("bench: %s control: %w", c.role, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("bench: %s control %s: %d %s", c.role, path, res.StatusCode, b)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// cpu is the child's process CPU time so far.
func (c *child) cpu() (time.Duration, error) {
	var ns int64
	err := c.get("/cpu", &ns)
	return time.Duration(ns), err
}

// memCounters are a process's cumulative allocation counters.
type memCounters struct {
	Bytes, Objects uint64
	GCs            uint32
}

// mem reads the child's allocation counters.
func (c *child) mem() (memCounters, error) {
	var m memCounters
	err := c.get("/mem", &m)
	return m, err
}

// stats are the child's counters (backends: introspections, logins).
func (c *child) stats() (map[string]int64, error) {
	m := map[string]int64{}
	err := c.get("/stats", &m)
	return m, err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
