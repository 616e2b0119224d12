package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"gopkg.in/yaml.v3"
)

// UnmarshalYAML accepts a single string or a list of strings, as Nakama's database.address does.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			*l = nil
			return nil
		}
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		list := make(StringList, 0, len(n.Content))
		for _, item := range n.Content {
			item = resolveAlias(item)
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("want a string or a list of strings, got a list holding %s", nodeKind(item))
			}
			list = append(list, item.Value)
		}
		*l = list
		return nil
	}
	return fmt.Errorf("want a string or a list of strings, got %s", nodeKind(n))
}

// loadFile applies one YAML file to cfg and returns its problems. It walks the node tree itself rather than
// using Decoder.KnownFields, so that every unknown key is reported with its dotted name and line, and a value
// of the wrong type never has its text quoted unless the key is a number or bool (string keys hold secrets).
// Nakama settings that Latchkey does not use (nakamaIgnored) are added to cfg.ignored, their values unread.
func loadFile(cfg *Config, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{"reading config file: " + err.Error()}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	var problems []string
	if len(doc.Content) == 1 {
		root := resolveAlias(doc.Content[0])
		if root.Kind != yaml.MappingNode && root.ShortTag() != "!!null" {
			problems = append(problems, fmt.Sprintf("%s:%d:%d: want a mapping of settings, got %s",
				path, root.Line, root.Column, nodeKind(root)))
		} else {
			w := walker{path: path, cfg: reflect.ValueOf(cfg).Elem()}
			w.mapping(root, "")
			problems = append(problems, w.problems...)
			cfg.ignored = append(cfg.ignored, w.ignored...)
			cfg.failed = append(cfg.failed, w.failed...)
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		problems = append(problems, path+": want one YAML document, found more")
	}
	return problems
}

// walker applies a YAML mapping to a Config, collecting problems and the Nakama settings it ignored.
type walker struct {
	path     string
	cfg      reflect.Value
	problems []string
	ignored  []string // entries of nakamaIgnored
	failed   []string // keys whose value could not be decoded
}

func (w *walker) problemf(n *yaml.Node, format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf("%s:%d:%d: ", w.path, n.Line, n.Column)+fmt.Sprintf(format, args...))
}

// mapping applies the keys of n, a mapping (or null) found at prefix ("" or "socket.").
func (w *walker) mapping(n *yaml.Node, prefix string) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			w.problemf(k, "want a key name, got %s", nodeKind(k))
			continue
		}
		if k.Value == "<<" {
			w.problemf(k, "merge keys (<<) are not supported")
			continue
		}
		name := prefix + k.Value
		if line, dup := seen[k.Value]; dup {
			w.problemf(k, "duplicate key %s (first at line %d)", name, line)
			continue
		}
		seen[k.Value] = k.Line
		if f, ok := lookupField(name); ok {
			if msg := decodeLeaf(w.cfg.FieldByIndex(f.index), f.kind, v); msg != "" {
				w.problemf(v, "%s: %s", name, msg)
				w.failed = append(w.failed, name)
			}
			continue
		}
		if entry, ok := nakamaIgnoredEntry(name); ok {
			// The value is neither decoded nor checked: it may have any shape, and may be a secret.
			w.ignored = append(w.ignored, entry)
			continue
		}
		if !isSection(name) {
			w.problemf(k, "unknown key %s%s", name, suggest(name))
			continue
		}
		switch {
		case v.Kind == yaml.MappingNode:
			w.mapping(v, name+".")
		case v.ShortTag() == "!!null":
			// "socket:" with nothing under it sets nothing.
		default:
			w.problemf(v, "%s: want a mapping of settings, got %s", name, nodeKind(v))
		}
	}
}

// decodeLeaf sets dst from n. A null leaves a scalar unchanged and empties a list, as yaml.v3 does.
func decodeLeaf(dst reflect.Value, k kind, n *yaml.Node) string {
	null := n.ShortTag() == "!!null"
	if k == kindList {
		if sl, ok := dst.Addr().Interface().(*StringList); ok {
			if err := sl.UnmarshalYAML(n); err != nil {
				return err.Error()
			}
			return ""
		}
		if null {
			dst.Set(reflect.Zero(dst.Type()))
			return ""
		}
		if n.Kind != yaml.SequenceNode {
			return "want a list of strings, got " + nodeKind(n)
		}
		list := reflect.MakeSlice(dst.Type(), 0, len(n.Content))
		for _, item := range n.Content {
			item = resolveAlias(item)
			if item.Kind != yaml.ScalarNode {
				return "want a list of strings, got a list holding " + nodeKind(item)
			}
			list = reflect.Append(list, reflect.ValueOf(item.Value).Convert(dst.Type().Elem()))
		}
		dst.Set(list)
		return ""
	}
	if null {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Sprintf("want %s, got %s", wantScalar[k], nodeKind(n))
	}
	switch k {
	case kindString:
		var s string
		if err := n.Decode(&s); err != nil {
			return "want a string"
		}
		dst.SetString(s)
	case kindInt:
		// yaml.v3 would truncate 1.5 to 1 for an int; only an integer literal is accepted.
		var i int64
		if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			return fmt.Sprintf("want an integer, got %q", n.Value)
		}
		if dst.OverflowInt(i) {
			return fmt.Sprintf("integer %q out of range", n.Value)
		}
		dst.SetInt(i)
	case kindBool:
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Sprintf("want true or false, got %q", n.Value)
		}
		dst.SetBool(b)
	}
	return ""
}

var wantScalar = map[kind]string{kindString: "a string", kindInt: "an integer", kindBool: "true or false"}

// resolveAlias follows *anchor references to the node they name.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// nodeKind names a node's shape for messages, never its text.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}
