package spa

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestAppBehaviour runs testdata/app_harness.js: app.js in Node with a fake
// DOM and a scripted fetch (login/end on the callback, CSRF header on POSTs
// and API calls, refresh-and-retry on 401, session_expired, logout, no web
// storage or cookie access). Node is needed by the demo's authorization
// server anyway; without it the test is skipped, except in CI.
func TestAppBehaviour(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not found on PATH (required in CI)")
		}
		t.Skip("node not found on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/app_harness.js", "static/app.js").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", out)
}
