package rp

import (
	"fmt"
	"net/http"
	"strings"
)

// judge decides a module by what the client called (the test server's
// record) and what the SPA saw, the way the suite does: a failed check
// inside the module fails it; a happy module passes on a correct resource
// call; a stop module passes when the faulty message went out and nothing
// but discovery and key fetches followed.
func judge(rn *run, o *observations, agentReason string) (Status, string) {
	rn.mu.Lock()
	violations := append([]string(nil), rn.violations...)
	skipped, faultSent, resourceOK, discovered := rn.skipped, rn.faultSent, rn.resourceOK, rn.discovered
	calls := strings.Join(rn.calls, " → ")
	rn.mu.Unlock()
	if len(violations) > 0 {
		msg := violations[0]
		if n := len(violations) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
		return Failed, msg
	}
	if skipped != "" {
		return Skipped, skipped
	}
	if calls == "" {
		calls = "none"
	}
	if rn.mod.expect == expectComplete {
		if o.loggedIn() && o.userInfo.status == http.StatusOK && resourceOK {
			return Passed, "flow completed (" + calls + ")"
		}
		return Failed, "flow did not complete: " + o.describe(agentReason) + " (calls: " + calls + ")"
	}
	if !faultSent {
		if rn.mod.fault == faultDiscovery && !discovered && o.startErr == nil {
			return Failed, "the client never fetched the discovery document"
		}
		return Failed, "the faulty " + string(rn.mod.fault) + " was never delivered: " + o.describe(agentReason) + " (calls: " + calls + ")"
	}
	if o.loggedIn() || o.session.body["isLoggedIn"] == true {
		return Failed, "the client reported a session after the faulty " + string(rn.mod.fault)
	}
	return Passed, "stopped after the faulty " + string(rn.mod.fault) + ": " + o.describe(agentReason)
}

// describe says where the SPA's script stopped and why.
func (o *observations) describe(agentReason string) string {
	why := ""
	if agentReason != "" {
		why = " — " + agentReason
	}
	switch {
	case o.startErr != nil && o.start.status != http.StatusOK:
		return "client refused to start: " + o.startErr.Error()
	case o.start.err != nil:
		return "login/start: " + o.start.err.Error()
	case o.start.status != http.StatusOK:
		return fmt.Sprintf("login/start answered %d %s%s", o.start.status, o.start.code(), why)
	case o.authErr != "":
		return o.authErr
	case o.end.err != nil:
		return "login/end: " + o.end.err.Error()
	case o.end.status != http.StatusOK:
		return fmt.Sprintf("login/end answered %d %s%s", o.end.status, o.end.code(), why)
	case !o.loggedIn():
		return fmt.Sprintf("login/end answered 200 without a session (handled: %v)", o.end.body["handled"])
	case o.userInfo.status != http.StatusOK:
		return fmt.Sprintf("userInfo answered %d %s%s", o.userInfo.status, o.userInfo.code(), why)
	}
	return "the resource call did not reach the server"
}
