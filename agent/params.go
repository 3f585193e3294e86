package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Request body limits: login/end carries a page URL that may hold a JARM
// response of a few KB; login/start carries a handful of parameters.
const (
	maxStartBody    = 16 << 10
	maxEndBody      = 64 << 10
	maxExtraParams  = 16
	maxParamValue   = 1024
	maxPageURLBytes = 48 << 10
)

var (
	errBody     = errors.New("agent: malformed request body")
	errReserved = errors.New("agent: protocol parameter in extraParams")
)

// readBody returns the request body (empty when there is none), refusing a
// body over max bytes or one that is not application/json.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		return nil, fmt.Errorf("%w: unreadable or over %d bytes", errBody, max)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, fmt.Errorf("%w: content type is not application/json", errBody)
	}
	return body, nil
}

// strictObject decodes one JSON object whose members are all named in
// fields (exact case), each at most once, into the pointers given there.
// Trailing data is refused. It reports which members were present.
func strictObject(data []byte, fields map[string]any) (map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", errBody)
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBody, err)
		}
		key, _ := tok.(string)
		dst, ok := fields[key]
		if !ok {
			return nil, fmt.Errorf("%w: unknown member %q", errBody, truncate(key, 32))
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: member %q repeated", errBody, key)
		}
		seen[key] = true
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("%w: member %q: wrong type", errBody, key)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", errBody, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the object", errBody)
	}
	return seen, nil
}

// parseStartBody reads the optional login/start body
// {"extraParams":[{"key":"prompt","value":"login"},…]} and checks every key
// against the allowed list: a protocol parameter is errReserved (CASES H01),
// any other unknown key errBody.
func parseStartBody(body []byte, allowed map[string]bool) (map[string]string, error) {
	if len(body) == 0 {
		return nil, nil
	}
	var list []json.RawMessage
	if _, err := strictObject(body, map[string]any{"extraParams": &list}); err != nil {
		return nil, err
	}
	if len(list) > maxExtraParams {
		return nil, fmt.Errorf("%w: more than %d extra parameters", errBody, maxExtraParams)
	}
	out := make(map[string]string, len(list))
	for _, item := range list {
		var key, value string
		seen, err := strictObject(item, map[string]any{"key": &key, "value": &value})
		if err != nil {
			return nil, err
		}
		if !seen["key"] || !seen["value"] {
			return nil, fmt.Errorf("%w: an extra parameter needs key and value", errBody)
		}
		if reservedParams[strings.ToLower(key)] {
			return nil, fmt.Errorf("%w: %q", errReserved, truncate(key, 32))
		}
		if !allowed[key] {
			return nil, fmt.Errorf("%w: extra parameter %q is not allowed", errBody, truncate(key, 32))
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: extra parameter %q repeated", errBody, key)
		}
		if err := checkParamValue(key, value); err != nil {
			return nil, err
		}
		out[key] = value
	}
	return out, nil
}

// promptValues are the OpenID Connect Core §3.1.2.1 (and Prompt Create)
// prompt values.
var promptValues = map[string]bool{"none": true, "login": true, "consent": true, "select_account": true, "create": true}

func checkParamValue(key, v string) error {
	if v == "" || len(v) > maxParamValue || !utf8.ValidString(v) {
		return fmt.Errorf("%w: extra parameter %q: empty, over %d bytes or not UTF-8", errBody, key, maxParamValue)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: extra parameter %q has a control character", errBody, key)
		}
	}
	switch key {
	case "prompt":
		for _, p := range strings.Split(v, " ") {
			if !promptValues[p] {
				return fmt.Errorf("%w: prompt value %q", errBody, truncate(p, 32))
			}
		}
	case "max_age":
		if len(v) > 9 || strings.Trim(v, "0123456789") != "" {
			return fmt.Errorf("%w: max_age must be a non-negative integer", errBody)
		}
	}
	return nil
}

// parseEndBody reads the login/end body {"pageUrl":"https://…"}.
func parseEndBody(body []byte) (string, error) {
	if len(body) == 0 {
		return "", fmt.Errorf("%w: no body", errBody)
	}
	var pageURL string
	seen, err := strictObject(body, map[string]any{"pageUrl": &pageURL})
	if err != nil {
		return "", err
	}
	if !seen["pageUrl"] || len(pageURL) > maxPageURLBytes {
		return "", fmt.Errorf("%w: pageUrl missing or over %d bytes", errBody, maxPageURLBytes)
	}
	return pageURL, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "?")
}
