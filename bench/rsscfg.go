package bench

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// pathKeys name configuration values that are file paths, resolved
// against the configuration file's directory when relative.
var pathKeys = map[string]bool{"dir": true, "cert_file": true, "client_ca": true, "ca_file": true, "root_file": true}

// portableConfig copies the configuration at src into dir with every
// "address" moved to a free loopback port and every relative file
// reference (including file: key references) made absolute. The daemon
// then never collides with, or is mistaken for, one that someone else
// runs on the example's ports; nothing else changes.
func portableConfig(src, dir string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("bench: %s: %w", src, err)
	}
	base, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return "", err
	}
	if err := rewrite(&doc, base); err != nil {
		return "", err
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(src))
	return dst, os.WriteFile(dst, out, 0o600)
}

// rewrite walks the mappings under n.
func rewrite(n *yaml.Node, base string) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				continue
			}
			switch ref, isFile := strings.CutPrefix(v.Value, "file:"); {
			case k == "address":
				port, err := freePort()
				if err != nil {
					return err
				}
				v.Value = port
			case isFile && !filepath.IsAbs(ref):
				v.Value = "file:" + filepath.Join(base, ref)
			case pathKeys[k] && v.Value != "" && !filepath.IsAbs(v.Value):
				v.Value = filepath.Join(base, v.Value)
			}
		}
	}
	for _, c := range n.Content {
		if err := rewrite(c, base); err != nil {
			return err
		}
	}
	return nil
}

// freePort is 127.0.0.1:N for a port free for TCP and UDP (listeners may
// serve HTTP/3 on the same port) at the time of asking.
func freePort() (string, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		if pc, err := net.ListenPacket("udp", addr); err == nil {
			pc.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("bench: no free loopback port")
}
