package fapi

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

func callback(params map[string]string) string {
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	return "https://app.example.test/cb?" + q.Encode()
}

func TestHandleCallbackQuery(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	ls := as.loginState(ResponseModeQuery)
	iss := as.issuer
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   []error // nil: success
		oauth  string  // expected OAuthError code
	}{
		{"ok", map[string]string{"code": "c1", "state": "state-123", "iss": iss}, nil, ""},
		{"iss wrong", map[string]string{"code": "c1", "state": "state-123", "iss": iss + "1"}, []error{ErrInvalidAuthorizationResponse, ErrIssuerMismatch}, ""},
		{"iss trailing slash", map[string]string{"code": "c1", "state": "state-123", "iss": iss + "/"}, []error{ErrIssuerMismatch}, ""},
		{"iss missing", map[string]string{"code": "c1", "state": "state-123"}, []error{ErrInvalidAuthorizationResponse, ErrIssuerMismatch}, ""},
		{"state wrong", map[string]string{"code": "c1", "state": "state-124", "iss": iss}, []error{ErrInvalidAuthorizationResponse, ErrState}, ""},
		{"state missing", map[string]string{"code": "c1", "iss": iss}, []error{ErrState}, ""},
		{"code missing", map[string]string{"state": "state-123", "iss": iss}, []error{ErrMissingClaim}, ""},
		{"error", map[string]string{"error": "access_denied", "error_description": "no", "state": "state-123", "iss": iss}, nil, "access_denied"},
		{"error wrong state", map[string]string{"error": "login_required", "state": "x", "iss": iss}, []error{ErrState}, ""},
		{"jarm in query mode", map[string]string{"response": "a.b.c"}, []error{ErrInvalidAuthorizationResponse}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := c.HandleCallback(context.Background(), callback(tc.params), ls)
			switch {
			case tc.oauth != "":
				oe, ok := asOAuth(err)
				if !ok || oe.Code != tc.oauth || oe.Endpoint != "authorization" {
					t.Fatalf("want OAuthError %s, got %v", tc.oauth, err)
				}
			case tc.want == nil:
				if err != nil {
					t.Fatal(err)
				}
				if ar.Code != "c1" || ar.JARM {
					t.Fatalf("%+v", ar)
				}
			default:
				wantErr(t, err, tc.want...)
				if strings.Contains(err.Error(), "c1") {
					t.Errorf("error leaks the code: %v", err)
				}
			}
		})
	}
}

func TestParseCallback(t *testing.T) {
	for _, bad := range []string{
		"https://app/cb?code=a&code=b&state=s",
		"https://app/cb?state=%zz",
		"https://app/cb?" + strings.Repeat("a", maxCallbackURL),
		"%",
	} {
		if _, err := ParseCallback(bad); err == nil {
			t.Errorf("accepted %.60q", bad)
		}
	}
	p, err := ParseCallback("https://app/cb?code=a&state=s&iss=https%3A%2F%2Fas")
	if err != nil || p.Code != "a" || p.State != "s" || p.Iss != "https://as" || !p.IsResponse() {
		t.Fatalf("%+v %v", p, err)
	}
	p, _ = ParseCallback("https://app/page?x=1")
	if p.IsResponse() {
		t.Error("page load seen as a response")
	}
}

func TestHandleCallbackLoginStateChecks(t *testing.T) {
	as := newFakeAS(t)
	c := as.client()
	ok := callback(map[string]string{"code": "c1", "state": "state-123", "iss": as.issuer})
	for name, mut := range map[string]func(*LoginState){
		"other issuer": func(l *LoginState) { l.Issuer = "https://evil.example" },
		"other client": func(l *LoginState) { l.ClientID = "x" },
		"no state":     func(l *LoginState) { l.State = "" },
		"bad verifier": func(l *LoginState) { l.CodeVerifier = "x" },
	} {
		ls := as.loginState(ResponseModeQuery)
		mut(&ls)
		_, err := c.HandleCallback(context.Background(), ok, ls)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
