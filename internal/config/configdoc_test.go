package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/configuration.md")

// configDoc is the configuration reference. Its prose is written by hand; the parts between
// "<!-- generated: NAME -->" and "<!-- end generated: NAME -->" are made from the key table and rewritten by
// go test ./internal/config -run TestConfigurationDoc -update.
const configDoc = "../../docs/configuration.md"

// docBlocks makes each generated part of configDoc, by name.
var docBlocks = map[string]func() string{
	"keys":   keysMarkdown,
	"nakama": nakamaMarkdown,
}

func TestConfigurationDoc(t *testing.T) {
	old, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := regenerate(string(old), docBlocks)
	if err != nil {
		t.Fatalf("%s: %v", configDoc, err)
	}
	if *update {
		if err := os.WriteFile(configDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(old) {
		t.Errorf("docs/configuration.md does not match the key table (first difference: %s); "+
			"run go test ./internal/config -run TestConfigurationDoc -update", firstDifference(string(old), got))
	}
}

func TestRegenerate(t *testing.T) {
	blocks := map[string]func() string{"a": func() string { return "new A\n" }}
	tests := []struct {
		name, in, want, err string
	}{
		{
			name: "replaces the block and keeps the prose",
			in:   "intro\n<!-- generated: a -->\nold\n<!-- end generated: a -->\noutro\n",
			want: "intro\n<!-- generated: a -->\nnew A\n<!-- end generated: a -->\noutro\n",
		},
		{name: "missing block", in: "intro\n", err: `no "<!-- generated: a -->"`},
		{name: "unterminated block", in: "<!-- generated: a -->\nold\n", err: `no "<!-- end generated: a -->"`},
		{
			name: "unknown block",
			in:   "<!-- generated: a -->\n<!-- end generated: a -->\n<!-- generated: b -->\n<!-- end generated: b -->\n",
			err:  `unknown generated part "b"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := regenerate(tt.in, blocks)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestKeysMarkdown checks the generated table against the key table itself, so that a key the generator
// drops, or a cell it garbles, is caught even when the file was regenerated.
func TestKeysMarkdown(t *testing.T) {
	md := keysMarkdown()
	for _, k := range Keys() {
		row := fmt.Sprintf("| `%s` | %s | `%s` | %s |", k.Name, k.Type, k.Default, cell(k.Description))
		if !strings.Contains(md, row+"\n") {
			t.Errorf("no row %s", row)
		}
	}
	if got := strings.Count(md, "\n| `"); got != len(Keys()) {
		t.Errorf("%d rows, want %d", got, len(Keys()))
	}
	if got, want := cell("a | b *x*"), `a \| b \*x\*`; got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
	nakama := nakamaMarkdown()
	for _, n := range nakamaIgnored {
		if !strings.Contains(nakama, "`"+n+"`") {
			t.Errorf("the list of ignored Nakama settings lacks %s", n)
		}
	}
	for line := range strings.Lines(nakama) {
		if len(line) > 111 {
			t.Errorf("line of %d characters in the list of ignored Nakama settings", len(line))
		}
	}
}

// regenerate replaces the body of every generated part of doc.
func regenerate(doc string, blocks map[string]func() string) (string, error) {
	const open, closing = "<!-- generated: ", "<!-- end generated: "
	seen := map[string]bool{}
	var out strings.Builder
	rest := doc
	for {
		i := strings.Index(rest, open)
		if i < 0 {
			out.WriteString(rest)
			break
		}
		nameEnd := strings.Index(rest[i:], " -->\n")
		if nameEnd < 0 {
			return "", fmt.Errorf("a generated-part marker without %q", " -->")
		}
		name := rest[i+len(open) : i+nameEnd]
		gen, ok := blocks[name]
		if !ok {
			return "", fmt.Errorf("unknown generated part %q", name)
		}
		end := closing + name + " -->"
		j := strings.Index(rest, end)
		if j < i {
			return "", fmt.Errorf("no %q after %q", end, open+name+" -->")
		}
		out.WriteString(rest[:i+nameEnd+len(" -->\n")])
		out.WriteString(gen())
		out.WriteString(end)
		rest = rest[j+len(end):]
		seen[name] = true
	}
	for name := range blocks {
		if !seen[name] {
			return "", fmt.Errorf("no %q", open+name+" -->")
		}
	}
	return out.String(), nil
}

// keysMarkdown is every key in one table per section, in the order Config declares them; keys outside a
// section come first.
func keysMarkdown() string {
	var sections []string
	bySection := map[string][]Key{}
	for _, k := range Keys() {
		s, _, nested := strings.Cut(k.Name, ".")
		if !nested {
			s = ""
		}
		if _, ok := bySection[s]; !ok {
			sections = append(sections, s)
		}
		bySection[s] = append(bySection[s], k)
	}
	var b strings.Builder
	for i, s := range sections {
		if i > 0 {
			b.WriteString("\n")
		}
		if s == "" {
			b.WriteString("### Top level\n\n")
		} else {
			fmt.Fprintf(&b, "### %s\n\n", s)
		}
		b.WriteString("| key | type | default | description |\n|---|---|---|---|\n")
		for _, k := range bySection[s] {
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", k.Name, k.Type, k.Default, cell(k.Description))
		}
	}
	return b.String()
}

// nakamaMarkdown lists the settings of Nakama's that are accepted and ignored, in lines of at most 110
// characters.
func nakamaMarkdown() string {
	var b, line strings.Builder
	for i, n := range nakamaIgnored {
		word := "`" + n + "`"
		if i < len(nakamaIgnored)-1 {
			word += ","
		} else {
			word += "."
		}
		if line.Len() > 0 && line.Len()+1+len(word) > 110 {
			b.WriteString(line.String() + "\n")
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteString(" ")
		}
		line.WriteString(word)
	}
	return b.String() + line.String() + "\n"
}

// cell escapes what would end a table cell or start emphasis.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`).Replace(s)
}

// firstDifference names the first line where a and b differ.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d is %q, want %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("the file has %d lines, want %d", len(al), len(bl))
}
