package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// ErrBrowser is wrapped by every error of the headless user agent about what the server answered.
var ErrBrowser = errors.New("interop: user agent")

const (
	maxSteps    = 20
	maxPageSize = 1 << 20
	password    = "x" // the development interactions accept any password
)

// Browser is a headless user agent for the reference server's interaction pages: it keeps cookies
// (so a Logout after a Login ends that session), follows redirects itself, fills in the login
// form with the given user and any password, and confirms consent and logout. It trusts the CA of
// Options.CAFile and presents no client certificate, like a browser.
type Browser struct {
	client *http.Client
	origin *url.URL
}

// NewBrowser returns a user agent with an empty cookie jar.
func (s *Server) NewBrowser() *Browser {
	return newBrowser(s.issuer, s.roots)
}

func newBrowser(issuer string, roots *x509.CertPool) *Browser {
	jar, _ := cookiejar.New(nil) // never fails with nil options
	origin, _ := url.Parse(issuer)
	return &Browser{
		origin: origin,
		client: &http.Client{
			Jar:     jar,
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
				ForceAttemptHTTP2: true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Login runs the interaction for authorizationURL (the authorization endpoint with client_id and
// request_uri) in a fresh [Browser], as user.
func (s *Server) Login(ctx context.Context, authorizationURL, user string) (callbackURL string, err error) {
	return s.NewBrowser().Login(ctx, authorizationURL, user)
}

// Login opens authorizationURL, signs in as user, gives consent, and returns the first redirect
// that leaves the server: the client's redirect_uri with code, state and iss, or with response
// (JARM), or with an error. Nothing is sent to that URL.
func (b *Browser) Login(ctx context.Context, authorizationURL, user string) (callbackURL string, err error) {
	if user == "" {
		return "", fmt.Errorf("%w: empty user", ErrBrowser)
	}
	fill := func(v url.Values) {
		if v.Has("login") {
			v.Set("login", user)
		}
		if v.Has("password") {
			v.Set("password", password)
		}
	}
	u, err := b.walk(ctx, authorizationURL, fill, false)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	return u, nil
}

// Logout opens endSessionURL (the end_session_endpoint with id_token_hint, post_logout_redirect_uri
// and state), confirms, and returns where the server sends the user agent: the client's
// post_logout_redirect_uri, or the server's own "signed out" page when there is none.
func (b *Browser) Logout(ctx context.Context, endSessionURL string) (redirectURL string, err error) {
	u, err := b.walk(ctx, endSessionURL, func(url.Values) {}, true)
	if err != nil {
		return "", fmt.Errorf("logout: %w", err)
	}
	return u, nil
}

// walk follows redirects and submits forms until a redirect leaves the server's origin. With
// endOnPage, a server page without a form also ends the walk (the logout success page).
func (b *Browser) walk(ctx context.Context, start string, fill func(url.Values), endOnPage bool) (string, error) {
	next, err := url.Parse(start)
	if err != nil || !b.sameOrigin(next) {
		return "", fmt.Errorf("%w: %q is not a URL of the server %s", ErrBrowser, start, b.origin)
	}
	method, body := http.MethodGet, url.Values(nil)
	for range maxSteps {
		resp, page, err := b.do(ctx, method, next, body)
		if err != nil {
			return "", err
		}
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return "", fmt.Errorf("%w: %s %s: redirect without Location", ErrBrowser, method, next.Path)
			}
			if !b.sameOrigin(loc) {
				return loc.String(), nil
			}
			method, body, next = http.MethodGet, nil, loc
		case resp.StatusCode == http.StatusOK && isHTML(resp):
			f, err := parseForm(page, next)
			if errors.Is(err, errNoForm) && endOnPage {
				return next.String(), nil
			}
			if err != nil {
				return "", fmt.Errorf("%w: %s %s: %v (page: %s)", ErrBrowser, method, next.Path, err, pageText(page))
			}
			if !b.sameOrigin(f.action) {
				return "", fmt.Errorf("%w: form on %s posts to another origin", ErrBrowser, next.Path)
			}
			fill(f.values)
			method, body, next = f.method, f.values, f.action
		default:
			return "", fmt.Errorf("%w: %s %s: status %d (page: %s)", ErrBrowser, method, next.Path, resp.StatusCode, pageText(page))
		}
	}
	return "", fmt.Errorf("%w: more than %d steps", ErrBrowser, maxSteps)
}

func (b *Browser) do(ctx context.Context, method string, u *url.URL, form url.Values) (*http.Response, []byte, error) {
	var rd io.Reader
	if method == http.MethodPost {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBrowser, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s %s: %w", ErrBrowser, method, u.Path, err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, maxPageSize))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s %s: %w", ErrBrowser, method, u.Path, err)
	}
	return resp, page, nil
}

func (b *Browser) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, b.origin.Scheme) && strings.EqualFold(u.Host, b.origin.Host)
}

func isHTML(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == "text/html"
}
