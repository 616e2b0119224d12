package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/latchkeyhq/latchkey/internal/config"
)

// envKeys maps every LATCHKEY_* variable the server reads to its config key.
func envKeys() map[string]string {
	m := map[string]string{}
	for _, k := range config.Keys() {
		m["LATCHKEY_"+strings.ToUpper(strings.ReplaceAll(k.Name, ".", "_"))] = k.Name
	}
	return m
}

// interpolation is compose's ${NAME}, ${NAME:?message} and ${NAME:-default}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}`)

// secretOf is the value the tests give a variable that compose reads from .env: 40 bytes, distinct per
// name, so that no key is short or shared and Warnings stays empty when the file is right.
func secretOf(name string) string {
	return (name + strings.Repeat("x", 40))[:40]
}

// loadConfig loads a configuration from args and the environment env, as the server would, and checks it
// loads and validates without warnings.
func loadConfig(t *testing.T, what string, args []string, env map[string]string) config.Config {
	t.Helper()
	cfg, _, err := config.Load(args, func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("%s: the configuration does not load:\n%v", what, err)
	}
	if w := cfg.Warnings(); len(w) > 0 {
		t.Errorf("%s: warnings %q", what, w)
	}
	return cfg
}

// TestDeployCompose checks deploy/compose.yaml against the server's configuration: every LATCHKEY_*
// variable of a Latchkey service is a real key, each service's environment loads and validates, the two
// nodes have distinct names on one database, and they start only once PostgreSQL is healthy and the
// schema migrated.
func TestDeployCompose(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(checkoutRoot(t), "deploy", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string
			Command     []string
			Environment map[string]string
			DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		}
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	if img := compose.Services["postgres"].Image; !strings.HasSuffix(img, "postgres:15") {
		t.Errorf("postgres service image %q; want PostgreSQL 15", img)
	}
	known := envKeys()
	cfgs := map[string]config.Config{}
	for _, name := range []string{"migrate", "latchkey-1", "latchkey-2"} {
		svc, ok := compose.Services[name]
		if !ok {
			t.Fatalf("deploy/compose.yaml has no service %s", name)
		}
		env := map[string]string{}
		for k, v := range svc.Environment {
			if _, ok := known[k]; !ok {
				t.Errorf("service %s sets %s, which is no configuration key", name, k)
			}
			env[k] = interpolation.ReplaceAllStringFunc(v, func(ref string) string {
				return secretOf(interpolation.FindStringSubmatch(ref)[1])
			})
		}
		cfgs[name] = loadConfig(t, "service "+name, nil, env)
		want := map[string]string{"postgres": "service_healthy", "migrate": "service_completed_successfully"}
		if name == "migrate" {
			delete(want, "migrate")
			if strings.Join(svc.Command, " ") != "migrate up" {
				t.Errorf("service migrate runs %q; want migrate up", svc.Command)
			}
		}
		for dep, cond := range want {
			if got := svc.DependsOn[dep].Condition; got != cond {
				t.Errorf("service %s depends on %s with condition %q; want %q", name, dep, got, cond)
			}
		}
	}
	one, two := cfgs["latchkey-1"], cfgs["latchkey-2"]
	if one.Name == two.Name {
		t.Errorf("both nodes are named %q; want distinct names", one.Name)
	}
	if len(one.Database.Address) != 1 || !strings.HasPrefix(one.Database.Address[0], "postgres://") ||
		strings.Join(one.Database.Address, "\n") != strings.Join(two.Database.Address, "\n") ||
		strings.Join(one.Database.Address, "\n") != strings.Join(cfgs["migrate"].Database.Address, "\n") {
		t.Errorf("database addresses %q, %q, migrate %q; want one PostgreSQL URL shared by all",
			one.Database.Address, two.Database.Address, cfgs["migrate"].Database.Address)
	}
}

// TestDeployExampleConfig loads deploy/latchkey.yaml as the systemd unit does, with the secrets that
// deploy/latchkey.env.example names in the environment: no unknown or ignored key, no validation problem,
// no warning.
func TestDeployExampleConfig(t *testing.T) {
	root := checkoutRoot(t)
	f, err := os.Open(filepath.Join(root, "deploy", "latchkey.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := envKeys()
	env := map[string]string{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		name, _, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if _, ok := known[name]; !ok && strings.HasPrefix(name, "LATCHKEY_") {
			t.Errorf("latchkey.env.example sets %s, which is no configuration key", name)
		}
		env[name] = secretOf(name)
	}
	loadConfig(t, "deploy/latchkey.yaml", []string{"--config", filepath.Join(root, "deploy", "latchkey.yaml")}, env)
}
