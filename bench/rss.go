package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cillers/fapid/config"
)

// RSSResult is the resident memory of an idle daemon.
type RSSResult struct {
	Binary  string
	Config  string
	RSSKB   int64 // VmRSS after IdleSettle
	AnonKB  int64 // of which RssAnon: heap, stacks, runtime
	FileKB  int64 // of which RssFile: pages of the binary (code, tables) mapped in
	HWMKB   int64 // VmHWM (peak, start-up included)
	Skipped string
	Err     string
}

// exampleConfig is the configuration the README's main command runs.
const exampleConfig = "certs.example/fapid.yaml"

// idleRSS builds cmd/fapid (unless o.FapidBinary is set), runs `fapid run
// -c certs.example/fapid.yaml`, waits for /readyz, lets it idle for
// o.IdleSettle and reads VmRSS from /proc.
func idleRSS(ctx context.Context, o Options) RSSResult {
	root, err := repoRoot(o.RepoRoot)
	if err != nil {
		return RSSResult{Err: err.Error()}
	}
	res := RSSResult{Config: exampleConfig + " (copied with its ports moved to free ones)", Binary: o.FapidBinary}
	dir, err := os.MkdirTemp("", "fapidbench")
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer os.RemoveAll(dir)
	path, err := portableConfig(filepath.Join(root, exampleConfig), dir)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	cfg, err := config.Load(path)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	if res.Binary == "" {
		res.Binary = filepath.Join(dir, "fapid")
		build := exec.CommandContext(ctx, "go", "build", "-o", res.Binary, "./cmd/fapid")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			res.Err = fmt.Sprintf("go build ./cmd/fapid: %v: %s", err, strings.TrimSpace(string(out)))
			return res
		}
	}
	kb, err := runIdle(ctx, res.Binary, path, cfg.Ops.Address, o.IdleSettle)
	if err != nil {
		res.Err = err.Error()
	}
	res.RSSKB, res.AnonKB, res.FileKB, res.HWMKB = kb["VmRSS"], kb["RssAnon"], kb["RssFile"], kb["VmHWM"]
	return res
}

// runIdle starts bin, waits for ready and IdleSettle, and reads the memory
// fields of /proc/PID/status.
func runIdle(ctx context.Context, bin, cfgFile, ops string, settle time.Duration) (map[string]int64, error) {
	if ops == "" {
		return nil, errors.New("the example configuration has no ops address to poll /readyz")
	}
	errs := &tailBuffer{max: 4 << 10}
	cmd := exec.Command(bin, "run", "-c", cfgFile)
	cmd.Stdout, cmd.Stderr = errs, errs
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	if err := waitReady(ctx, "http://"+ops+"/readyz", exited); err != nil {
		return nil, fmt.Errorf("%w (output: %s)", err, errs.String())
	}
	select {
	case <-time.After(settle):
	case err := <-exited:
		return nil, fmt.Errorf("fapid exited: %v (output: %s)", err, errs.String())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	kb := map[string]int64{}
	for _, f := range []string{"VmRSS", "RssAnon", "RssFile", "VmHWM"} {
		v, err := statusKB(cmd.Process.Pid, f)
		if err != nil {
			return nil, err
		}
		kb[f] = v
	}
	return kb, nil
}

func waitReady(ctx context.Context, url string, exited <-chan error) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := c.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("fapid exited before ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("fapid not ready within 60 s")
}

// repoRoot is dir, or the nearest parent of the working directory holding
// the module's go.mod.
func repoRoot(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/cillers/fapid\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("bench: not inside the fapid module (set RepoRoot)")
		}
		d = parent
	}
}
