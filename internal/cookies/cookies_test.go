package cookies

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func request(cookies ...string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "https://api.example.test/", nil)
	for _, c := range cookies {
		r.Header.Add("Cookie", c)
	}
	return r
}

func cookieHeader(cs []*http.Cookie) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func TestSplitJoinRoundTrip(t *testing.T) {
	const name = "__Host-fapid-at"
	for _, n := range []int{1, 10, 3799, 3800, 3801, 7600, 7601, 30400} {
		value := strings.Repeat("aB3_-", n/5+1)[:n]
		cs, err := Split(name, value, 0)
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if want := (n + DefaultChunkSize - 1) / DefaultChunkSize; len(cs) != want {
			t.Fatalf("%d bytes: %d pieces, want %d", n, len(cs), want)
		}
		for i, c := range cs {
			if c.Name != ChunkName(name, i) || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("piece %d attributes: %+v", i, c)
			}
			c.MaxAge = 3600
			if line := c.String(); len(line) > 4096 {
				t.Fatalf("Set-Cookie line %d bytes", len(line))
			}
		}
		// Pieces in any order and mixed with other cookies still join.
		rev := make([]*http.Cookie, len(cs))
		for i := range cs {
			rev[len(cs)-1-i] = cs[i]
		}
		got, err := Join(request("theme=dark; "+cookieHeader(rev)+"; __Host-fapid-atx=1; __Host-fapid-at-foo=z"), name)
		if err != nil || got != value {
			t.Fatalf("%d: join = %d bytes, %v", n, len(got), err)
		}
	}
}

func TestSplitRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		name, value string
		size        int
	}{
		"empty name":  {"", "abc", 0},
		"empty value": {"n", "", 0},
		"bad char":    {"n", "ab.c", 0},
		"too long":    {"n", strings.Repeat("a", MaxChunks*10+1), 10},
		"huge size":   {"n", "abc", MaxChunkSize + 1},
	} {
		if _, err := Split(tc.name, tc.value, tc.size); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestJoinRejects(t *testing.T) {
	const name = "__Host-fapid-at"
	cases := map[string]struct {
		header string
		want   error
	}{
		"absent":              {"other=1", ErrMissing},
		"no cookie header":    {"", ErrMissing},
		"dots (H07)":          {name + "=" + strings.Repeat(".", 3000), ErrMalformed},
		"gap: dropped piece":  {name + "=aaa; " + name + "-2=bbb", ErrMalformed},
		"first piece dropped": {name + "-1=bbb", ErrMalformed},
		"duplicate":           {name + "=aaa; " + name + "=bbb", ErrMalformed},
		"empty piece":         {name + "=", ErrMalformed},
		"leading zero":        {name + "=aaa; " + name + "-01=bbb", ErrMalformed},
		"index too high":      {name + "=aaa; " + name + "-8=bbb", ErrMalformed},
		"three digits":        {name + "=aaa; " + name + "-100=bbb", ErrMalformed},
		"quoted":              {name + `="aaa"`, ErrMalformed},
		"oversized piece":     {name + "=" + strings.Repeat("a", MaxChunkSize+1), ErrMalformed},
		"padding":             {name + "=aaa=", ErrMalformed},
	}
	for n, tc := range cases {
		var r *http.Request
		if tc.header == "" {
			r = request()
		} else {
			r = request(tc.header)
		}
		if _, err := Join(r, name); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", n, err, tc.want)
		}
	}
}

func TestJoinSeveralHeaderLines(t *testing.T) {
	// HTTP/2 and HTTP/3 may carry cookies in separate header fields.
	got, err := Join(request("__Host-p-at=abc", "x=1; __Host-p-at-1=def"), "__Host-p-at")
	if err != nil || got != "abcdef" {
		t.Fatalf("join = %q, %v", got, err)
	}
}

func TestExpire(t *testing.T) {
	r := request("__Host-p-at=a; __Host-p-at-1=b; __Host-p-at-2=c; other=1")
	got := Expire(r, "__Host-p-at", 2)
	if len(got) != 1 || got[0].Name != "__Host-p-at-2" || got[0].MaxAge != -1 || !strings.Contains(got[0].String(), "Max-Age=0") {
		t.Fatalf("Expire(keep=2) = %v", got)
	}
	if all := Expire(r, "__Host-p-at", 0); len(all) != 3 {
		t.Fatalf("Expire(keep=0) = %d cookies, want 3", len(all))
	}
}

func TestJoinSingleDoesNotAllocate(t *testing.T) {
	r := request("a=1; __Host-fapid-at=" + strings.Repeat("x", 200) + "; b=2")
	n := testing.AllocsPerRun(100, func() {
		if _, err := Join(r, "__Host-fapid-at"); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("Join allocates %v times for one piece", n)
	}
}

func FuzzJoin(f *testing.F) {
	f.Add("__Host-fapid-at=abc; __Host-fapid-at-1=def")
	f.Add("__Host-fapid-at=" + strings.Repeat(".", 100))
	f.Add("__Host-fapid-at-1=a;__Host-fapid-at=b;;; =; x")
	f.Add(`__Host-fapid-at="q"; __Host-fapid-at-07=z`)
	f.Fuzz(func(t *testing.T, header string) {
		r := request(header)
		v, err := Join(r, "__Host-fapid-at")
		if err != nil {
			return
		}
		if v == "" || !validValue(v) || len(v) > MaxChunks*MaxChunkSize {
			t.Fatalf("accepted %q", v)
		}
		// What joins must split and join back to itself.
		cs, err := Split("__Host-fapid-at", v, MaxChunkSize)
		if err != nil {
			t.Fatalf("split of joined value: %v", err)
		}
		if again, err := Join(request(cookieHeader(cs)), "__Host-fapid-at"); err != nil || again != v {
			t.Fatalf("round trip: %v", err)
		}
	})
}
