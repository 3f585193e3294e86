package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds the configuration file; a real one is a few KB.
const maxFileSize = 1 << 20

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string // set by Load
	Line int    // 0 when unknown
	Path string // dotted key path, e.g. listeners[0].address
	Msg  string
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one file; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find a single Problem.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// Load reads, strictly decodes, defaults, resolves and validates the file.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, maxFileSize)
	}
	cfg, lines, probs := Decode(data)
	if cfg != nil {
		Defaults(cfg)
		resolvePaths(cfg, filepath.Dir(path))
		probs = append(probs, Validate(cfg)...)
	}
	if len(probs) == 0 {
		return cfg, nil
	}
	for i := range probs {
		probs[i].File = path
		if probs[i].Line == 0 {
			probs[i].Line = lines.find(probs[i].Path)
		}
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return nil, probs
}

// lineIndex maps key paths to the line they appear on.
type lineIndex map[string]int

// find returns the line of path or of its nearest ancestor present in the file.
func (l lineIndex) find(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Decode strictly decodes YAML into a File. It reports every unknown key and
// every value of the wrong type; the returned index maps key paths to lines.
// The File is nil when the text could not be decoded; it is returned beside
// unknown-key problems so that validation can report its problems too.
func Decode(data []byte) (*File, lineIndex, Problems) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, Problems{{Msg: "empty configuration"}}
		}
		return nil, nil, Problems{syntaxProblem(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, nil, Problems{{Line: extra.Line, Msg: "only one YAML document is allowed"}}
	}
	lines := lineIndex{}
	var probs Problems
	walk(&doc, reflect.TypeOf(File{}), "", lines, &probs)
	var cfg File
	if err := doc.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, lines, append(probs, syntaxProblem(err))
		}
		for _, msg := range te.Errors {
			p := typeProblem(msg)
			p.Path = lines.at(p.Line)
			probs = append(probs, p)
		}
		return nil, lines, probs
	}
	return &cfg, lines, probs
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func syntaxProblem(err error) Problem {
	return typeProblem(err.Error())
}

func typeProblem(msg string) Problem {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{Line: n, Msg: plainTypeError(m[2])}
	}
	return Problem{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

var unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: .*)? into (.+)$")

// plainTypeError rewrites the decoder's "cannot unmarshal !!str `x` into
// time.Duration" as "wrong type: want a duration such as 30s": no Go type
// names, and the value is not echoed (it might be a pasted secret).
func plainTypeError(msg string) string {
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := "a mapping of keys"
	switch t := m[2]; {
	case t == "time.Duration":
		want = "a duration such as 30s or 5m"
	case t == "string" || strings.HasPrefix(t, "config.SecretRef"):
		want = "a string"
	case t == "bool" || t == "*bool":
		want = "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		want = "a whole number"
	case strings.HasPrefix(t, "[]"):
		want = "a list"
	}
	return fmt.Sprintf("wrong type (%s): want %s", m[1], want)
}

// at returns the key path on line n, or "". Several keys on one line (a
// flow mapping such as {name: a, hsts: x}) give their common parent: the
// decoder's errors carry no column.
func (l lineIndex) at(n int) string {
	var paths []string
	for p, ln := range l {
		if ln == n {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return ""
	}
	sort.Strings(paths)
	common := paths[0]
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, common) || (len(p) > len(common) && common != "" && p[len(common)] != '.' && p[len(common)] != '[') {
			i := strings.LastIndexAny(common, ".[")
			if i < 0 {
				return ""
			}
			common = common[:i]
		}
	}
	return common
}

// walk records the line of every key and reports keys the schema lacks.
func walk(n *yaml.Node, t reflect.Type, path string, lines lineIndex, probs *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 1 {
			walk(n.Content[0], t, path, lines, probs)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		*probs = append(*probs, Problem{Line: n.Line, Path: path, Msg: "YAML aliases are not allowed"})
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type error
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			lines[p] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				*probs = append(*probs, Problem{Line: k.Line, Path: p, Msg: fmt.Sprintf("unknown key %q", k.Value)})
				continue
			}
			walk(v, ft, p, lines, probs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := path + "." + k.Value
			lines[p] = k.Line
			walk(v, t.Elem(), p, lines, probs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = v.Line
			walk(v, t.Elem(), p, lines, probs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f.Type
	}
	return m
}

// resolvePaths makes relative file paths relative to the config's directory.
func resolvePaths(f *File, dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	ref := func(r *SecretRef) {
		if r.Scheme() == "file" {
			p := r.Path()
			abs(&p)
			*r = SecretRef("file:" + p)
		}
	}
	if f.PKI != nil {
		abs(&f.PKI.Dir)
	}
	for name, c := range f.Certificates {
		abs(&c.CertFile)
		ref(&c.Key)
		if c.Embedded != nil {
			e := *c.Embedded
			abs(&e.RootFile)
			ref(&e.ProvisionerKey)
			c.Embedded = &e
		}
		f.Certificates[name] = c
	}
	for i := range f.Listeners {
		abs(&f.Listeners[i].ClientCA)
	}
	if as := f.AuthorizationServer; as != nil {
		abs(&as.CAFile)
	}
	if s := f.Session; s != nil {
		for i := range s.Keys {
			ref(&s.Keys[i])
		}
	}
	if a := f.Agent; a != nil {
		ref(&a.Client.Key)
		ref(&a.DPoPKey)
	}
	if g := f.Gateway; g != nil {
		ref(&g.Introspection.Client.Key)
		ref(&g.SigningKey)
		for i := range g.Routes {
			abs(&g.Routes[i].UpstreamCA)
		}
	}
}
