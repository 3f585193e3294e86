//go:build linux

package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/pkitest"
)

var inCI = os.Getenv("CI") == "true"

// tools are the programs the test needs.
type tools struct {
	chromium string
	certutil string // "" when missing outside CI: the browser then ignores certificate errors
}

// need finds the tools, skipping outside CI when the browser or Node.js is
// missing. Under CI=true everything is required.
func need(t *testing.T) tools {
	t.Helper()
	missing := func(what, install string) {
		t.Helper()
		if inCI {
			t.Fatalf("%s is missing (CI=true: nothing is skipped); install it: %s", what, install)
		}
		t.Skipf("%s is missing; install it to run the browser test: %s", what, install)
	}
	var tl tools
	var err error
	if tl.chromium, err = exec.LookPath("chromium"); err != nil {
		missing("chromium", "apt-get install chromium libnss3-tools")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("Node.js", "apt-get install nodejs npm")
	}
	if tl.certutil, err = exec.LookPath("certutil"); err != nil {
		if inCI {
			t.Fatal("certutil is missing (CI=true: nothing is skipped); install it: apt-get install libnss3-tools")
		}
		t.Log("certutil is missing (apt-get install libnss3-tools): the browser will ignore certificate errors instead of trusting the demo CA")
		tl.certutil = ""
	}
	return tl
}

// fapidBinary builds ./cmd/fapid, or takes $FAPID_E2E_BINARY, and checks
// that it has the demo command.
func fapidBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FAPID_E2E_BINARY")
	if bin == "" {
		bin = buildFapid(t)
	}
	if out, err := exec.Command(bin, "demo", "--help").CombinedOutput(); err != nil {
		t.Fatalf("%s demo --help: %v\n%s(is demoCommand in the command table of cmd/fapid/main.go?)", bin, err, out)
	}
	return bin
}

func buildFapid(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "fapid")
	start := time.Now()
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/fapid")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fapid: %v\n%s", err, b)
	}
	t.Logf("built fapid in %v", time.Since(start).Round(time.Millisecond))
	return out
}

// freePorts returns n distinct loopback ports that are free for TCP and UDP
// (fapid's listener also serves HTTP/3) at the time of the call.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, l.Close)
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // UDP side taken: keep the TCP one open so it is not picked again
		}
		closers = append(closers, pc.Close)
		ports = append(ports, port)
	}
	return ports
}

// demoProc is `fapid demo` running as a subprocess in its own process group.
type demoProc struct {
	cmd     *exec.Cmd
	state   string
	stdout  syncBuffer
	stderr  syncBuffer
	url     chan string
	exited  chan struct{}
	waitErr error
}

var openRE = regexp.MustCompile(`^\s*Open:\s+(https://\S+)\s*$`)

// startDemo runs the demo and waits for the URL it prints.
func startDemo(t *testing.T, bin, state string, args ...string) (*demoProc, string) {
	t.Helper()
	p := &demoProc{state: state, url: make(chan string, 1), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"demo", "--state", state}, args...)...)
	p.cmd.Stderr = &p.stderr
	// Own process group, so the test can interrupt the demo as a terminal's
	// Ctrl-C would; killed if this test binary dies.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig follows the thread that started the child: keep it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		go p.readStdout(stdout)
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start fapid demo: %v", err)
	}
	t.Cleanup(func() { p.kill(t) })
	timer := time.NewTimer(3 * time.Minute) // a first npm ci included
	defer timer.Stop()
	select {
	case u := <-p.url:
		return p, u
	case <-p.exited:
		t.Fatalf("fapid demo exited before printing its URL: %v\nstdout:\n%s\nstderr:\n%s", p.waitErr, p.stdout.String(), p.stderr.String())
	case <-timer.C:
		t.Fatalf("fapid demo printed no URL within 3m\nstderr:\n%s", p.stderr.String())
	}
	return nil, ""
}

func (p *demoProc) readStdout(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		p.stdout.Write([]byte(line + "\n"))
		if m := openRE.FindStringSubmatch(line); m != nil && !sent {
			sent = true
			p.url <- m[1]
		}
	}
}

// interrupt sends SIGINT to the demo's process group, as Ctrl-C in a
// terminal does, and waits for it to exit.
func (p *demoProc) interrupt(t *testing.T) error {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT); err != nil {
		return fmt.Errorf("SIGINT: %w", err)
	}
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(30 * time.Second):
		return errors.New("fapid demo still running 30s after SIGINT")
	}
}

// kill ends whatever is left of the demo's process group.
func (p *demoProc) kill(t *testing.T) {
	select {
	case <-p.exited:
	default:
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		// node runs in its own group and exits when its stdin (the dead
		// demo's pipe) closes.
		if left := waitGone(p.state, 10*time.Second); len(left) > 0 {
			t.Errorf("processes left after killing the demo:\n%s", strings.Join(left, "\n"))
		}
	}
	if t.Failed() {
		t.Logf("fapid demo stdout:\n%s\nfapid demo stderr (tail):\n%s", p.stdout.String(), tail(p.stderr.String(), 80))
	}
}

// groupAlive reports whether any process of the group pgid exists.
func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// processesWith returns "pid: command line" of every process (but this one)
// whose command line contains s.
func processesWith(s string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		out = append(out, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " ")))
	}
	return out
}

// waitGone waits until no process has s in its command line.
func waitGone(s string, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		left := processesWith(s)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer = pkitest.SyncBuffer

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitCtx is a context for one step.
func waitCtx(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, d)
}
