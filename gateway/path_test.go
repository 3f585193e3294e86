package gateway

import (
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	ok := map[string]string{
		"/":                            "/",
		"/api/x":                       "/api/x",
		"/api/public/a/../b.png":       "/api/public/b.png", // CASES H11 control
		"/api/public/../admin/s":       "/api/admin/s",
		"/api/./x":                     "/api/x",
		"/api/x/.":                     "/api/x/",
		"/api/x/..":                    "/api/",
		"/api/x/":                      "/api/x/",
		"/api/%7Euser":                 "/api/~user",
		"/api/%41%62c":                 "/api/Abc",
		"/api/a%3fb":                   "/api/a%3Fb",
		"/api/caf%c3%a9":               "/api/caf%C3%A9",
		"/api/a;v=1":                   "/api/a;v=1",
		"/api/a:b@c!$&'()*+,=":         "/api/a:b@c!$&'()*+,=",
		"/api/%25":                     "/api/%25",
		"/api/%25zz":                   "/api/%25zz",
		"/api/.hidden":                 "/api/.hidden",
		"/api/..x":                     "/api/..x",
		"/api/x..":                     "/api/x..",
		"/api/a%20b":                   "/api/a%20b",
		"/" + strings.Repeat("a", 100): "/" + strings.Repeat("a", 100),
	}
	for in, want := range ok {
		got, err := canonicalPath(in)
		if err != nil || got != want {
			t.Errorf("canonicalPath(%q) = %q, %v; want %q", in, got, err, want)
		}
		// Canonical output is a fixed point.
		if again, err := canonicalPath(got); err != nil || again != got {
			t.Errorf("canonicalPath(%q) not idempotent: %q, %v", got, again, err)
		}
	}
	bad := []string{
		"", "api", "*", "//api/admin/secrets", "/api//x", "/api/x//",
		"/api/public/%2e%2e/admin/secrets", "/api/public/%2E%2E/admin", "/api/%2e/x", "/api/.%2e/x",
		"/api/public/..;/admin/secrets", "/api/public/.;/x", "/api/;x/y", "/api/%2e%2e;/x",
		"/api/a%2fb", "/api/a%2Fb", "/api/a%5cb", "/api/a\\b", "/api/a%00b", "/api/a%0a",
		"/api/%252e%252e/x", "/api/%", "/api/%4", "/api/%zz", "/api/é", "/api/a b", "/api/a\"b",
		"/..", "/api/../../x", "/" + strings.Repeat("a", maxPathLength),
	}
	for _, in := range bad {
		if got, err := canonicalPath(in); err == nil {
			t.Errorf("canonicalPath(%q) = %q, want error", in, got)
		}
	}
}

func TestMatchPrefix(t *testing.T) {
	for _, tc := range []struct {
		p, prefix string
		want      bool
	}{
		{"/api/x", "/api/", true}, {"/api/", "/api/", true}, {"/api", "/api/", false},
		{"/api", "/api", true}, {"/api/x", "/api", true}, {"/apix", "/api", false},
	} {
		if got := matchPrefix(tc.p, tc.prefix); got != tc.want {
			t.Errorf("matchPrefix(%q, %q) = %v", tc.p, tc.prefix, got)
		}
	}
}

func TestCanonicalPathPlainDoesNotAllocate(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		if _, err := canonicalPath("/api/orders/12345/items"); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/api/public/../admin/secrets", "/api/public/%2e%2e/admin/secrets",
		"//api/admin/secrets", "/api/public/..;/admin/secrets", "/api/public/a/../b.png", "/a/%41/%c3%a9;x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := canonicalPath(raw)
		if err != nil {
			return
		}
		if again, err := canonicalPath(c); err != nil || again != c {
			t.Fatalf("%q → %q → %q, %v: not a fixed point", raw, c, again, err)
		}
		if !strings.HasPrefix(c, "/") || strings.Contains(c, "//") {
			t.Fatalf("%q → %q", raw, c)
		}
		for _, seg := range strings.Split(c, "/") {
			before, _, _ := strings.Cut(seg, ";")
			if seg == "." || seg == ".." || before == ".." || before == "." {
				t.Fatalf("%q → %q keeps a dot segment", raw, c)
			}
		}
		lc := strings.ToLower(c)
		if strings.Contains(lc, "%2f") || strings.Contains(lc, "%5c") || strings.Contains(lc, "%2e") || strings.Contains(c, "\\") {
			t.Fatalf("%q → %q keeps an ambiguous escape", raw, c)
		}
	})
}
