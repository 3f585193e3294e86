package interop

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

var errNoForm = errors.New("no form on the page")

// form is what a browser would submit for the first form of a page, with its first submit button.
type form struct {
	method string
	action *url.URL
	values url.Values
}

type formNode struct {
	node   *html.Node
	id     string
	submit bool // a submit button's name=value has been added
	values url.Values
}

// parseForm finds the first form on page (preferring one with method=post) and collects the
// values of its controls, including controls outside it that name it with form="id" (the logout
// page's buttons). base resolves a relative action.
func parseForm(page []byte, base *url.URL) (*form, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("parse page: %w", err)
	}
	var forms []*formNode
	byID := map[string]*formNode{}
	var walk func(n *html.Node, owner *formNode)
	walk = func(n *html.Node, owner *formNode) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				f := &formNode{node: n, id: attr(n, "id"), values: url.Values{}}
				forms = append(forms, f)
				if f.id != "" {
					byID[f.id] = f
				}
				owner = f
			case atom.Input, atom.Button, atom.Textarea:
				target := owner
				if id := attr(n, "form"); id != "" {
					target = byID[id] // forms precede their external controls on our pages
				}
				if target != nil {
					addControl(target, n)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, owner)
		}
	}
	walk(doc, nil)
	if len(forms) == 0 {
		return nil, errNoForm
	}
	chosen := forms[0]
	for _, f := range forms {
		if strings.EqualFold(attr(f.node, "method"), "post") {
			chosen = f
			break
		}
	}
	action, err := base.Parse(attr(chosen.node, "action"))
	if err != nil {
		return nil, fmt.Errorf("form action: %w", err)
	}
	method := http.MethodGet
	if strings.EqualFold(attr(chosen.node, "method"), "post") {
		method = http.MethodPost
	}
	return &form{method: method, action: action, values: chosen.values}, nil
}

// addControl adds what a browser submits for the control n of f. Only the first submit button
// counts (the one a user presses first: "Continue", "Sign-in", "Yes, sign me out").
func addControl(f *formNode, n *html.Node) {
	name := attr(n, "name")
	typ := strings.ToLower(attr(n, "type"))
	_, disabled := attrOK(n, "disabled")
	if disabled {
		return
	}
	switch n.DataAtom {
	case atom.Button:
		if typ == "" || typ == "submit" {
			f.addSubmit(name, attr(n, "value"))
		}
	case atom.Textarea:
		if name != "" {
			f.values.Add(name, textOf(n))
		}
	case atom.Input:
		switch typ {
		case "submit":
			f.addSubmit(name, attr(n, "value"))
		case "button", "reset", "image", "file":
		case "checkbox", "radio":
			if _, checked := attrOK(n, "checked"); checked && name != "" {
				v, ok := attrOK(n, "value")
				if !ok {
					v = "on"
				}
				f.values.Add(name, v)
			}
		default:
			if name != "" {
				f.values.Add(name, attr(n, "value"))
			}
		}
	}
}

func (f *formNode) addSubmit(name, value string) {
	if f.submit {
		return
	}
	f.submit = true
	if name != "" {
		f.values.Add(name, value)
	}
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return sb.String()
}

// pageText summarises a server page for an error message: the <pre> lines of oidc-provider's
// error page (error, error_description), else the title; at most 300 characters.
func pageText(page []byte) string {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return "unreadable"
	}
	var pres []string
	title := ""
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Pre:
				pres = append(pres, strings.Join(strings.Fields(textOf(n)), " "))
				return
			case atom.Title:
				title = strings.Join(strings.Fields(textOf(n)), " ")
				return
			case atom.Script, atom.Style:
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	s := strings.Join(pres, "; ")
	if s == "" {
		s = title
	}
	if s == "" {
		s = "no title"
	}
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
