package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
)

func loggerConfig() config.LoggerConfig { return config.Default().Logger }

// jsonLines parses every line of b as a JSON object.
func jsonLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestJSONLines: logger.format json (in any case) writes one JSON object a line with the level, the
// message, the node and the attributes; logger.level DEBUG lets debug lines through.
func TestJSONLines(t *testing.T) {
	cfg := loggerConfig()
	cfg.Format, cfg.Level = "JSON", "DEBUG"
	var console bytes.Buffer
	log, closer, err := New(cfg, &console, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	log.Debug("looked", "user_id", "u1")
	log.Warn("slow store", "ms", 1500)

	lines := jsonLines(t, console.Bytes())
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), console.String())
	}
	for i, want := range []map[string]any{
		{"level": "DEBUG", "msg": "looked", "node": "node-a", "user_id": "u1"},
		{"level": "WARN", "msg": "slow store", "node": "node-a", "ms": float64(1500)},
	} {
		for k, v := range want {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (%v)", i, k, lines[i][k], v, lines[i])
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, lines[i]["time"].(string)); err != nil {
			t.Errorf("line %d: time: %v", i, err)
		}
	}
}

// TestLevels: the level filters in any case, and the text format is the default.
func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  []string
	}{
		{"DEBUG", []string{"level=DEBUG", "level=INFO", "level=WARN"}},
		{"Info", []string{"level=INFO", "level=WARN"}},
		{"warn", []string{"level=WARN"}},
		{"ERROR", nil},
	} {
		cfg := loggerConfig()
		cfg.Level = tc.level
		var console bytes.Buffer
		log, _, err := New(cfg, &console, "n")
		if err != nil {
			t.Fatal(err)
		}
		log.Debug("d")
		log.Info("i")
		log.Warn("w")
		got := strings.Split(strings.TrimSpace(console.String()), "\n")
		if len(tc.want) == 0 {
			got = nil
			if console.Len() != 0 {
				t.Errorf("level %s: logged %q, want nothing", tc.level, console.String())
			}
		}
		if len(got) != len(tc.want) {
			t.Fatalf("level %s: got %q, want %d lines", tc.level, console.String(), len(tc.want))
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) || !strings.Contains(got[i], "node=n") {
				t.Errorf("level %s: line %q lacks %s and node=n", tc.level, got[i], w)
			}
		}
	}
}

// TestFileAndConsole: with both logger.stdout and logger.file set every line goes to both; the file is
// appended to (an earlier run's lines stay), created with its directories, and not world-readable.
func TestFileAndConsole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "sub", "latchkey.log")
	cfg := loggerConfig()
	cfg.Format, cfg.File = "json", path
	var console bytes.Buffer
	for run := range 2 {
		log, closer, err := New(cfg, &console, "n")
		if err != nil {
			t.Fatal(err)
		}
		log.Info("started", "run", run)
		if err := closer.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := jsonLines(t, b); len(lines) != 2 || lines[0]["run"] != float64(0) || lines[1]["run"] != float64(1) {
		t.Errorf("file holds %q, want both runs' lines", b)
	}
	if got := len(jsonLines(t, console.Bytes())); got != 2 {
		t.Errorf("console got %d lines, want 2", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		t.Errorf("log file mode %v is readable by others", perm)
	}

	// logger.stdout false: the file only.
	console.Reset()
	cfg.Stdout = false
	log, closer, err := New(cfg, &console, "n")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("file only")
	closer.Close()
	if console.Len() != 0 {
		t.Errorf("console got %q with logger.stdout false", console.String())
	}
}

// TestRotation: with logger.rotation the file is rotated at logger.max_size megabytes, and only
// logger.max_backups rotated files are kept.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	cfg := loggerConfig()
	cfg.Stdout, cfg.File, cfg.Rotation, cfg.MaxSize, cfg.MaxBackups = false, filepath.Join(dir, "latchkey.log"), true, 1, 1
	log, closer, err := New(cfg, nil, "n")
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 1000)
	// About 2.5 MB: at least two rotations.
	for i := range 2500 {
		log.Info("line", "i", i, "pad", pad)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	const limit = 1 << 20
	// Old backups are removed in the background after each rotation; wait for that, bounded.
	var names []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		names = nil
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > limit {
				t.Fatalf("%s is %d bytes, beyond logger.max_size 1 MB", e.Name(), fi.Size())
			}
		}
		if len(names) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(names) != 2 {
		t.Fatalf("log directory holds %v, want the log and one backup (max_backups 1)", names)
	}
	backup := names[0]
	if backup == "latchkey.log" {
		backup = names[1]
	}
	if !strings.HasPrefix(backup, "latchkey-") || !strings.HasSuffix(backup, ".log") {
		t.Errorf("backup is named %s, want latchkey-TIMESTAMP.log", backup)
	}
	// The newest lines are in the current file.
	b, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "i=2499 ") {
		t.Error("the current file lacks the last line")
	}
}

// TestNothing: neither the console nor a file logs nothing, without failing.
func TestNothing(t *testing.T) {
	cfg := loggerConfig()
	cfg.Stdout = false
	var console bytes.Buffer
	log, closer, err := New(cfg, &console, "n")
	if err != nil {
		t.Fatal(err)
	}
	log.Error("dropped")
	closer.Close()
	if console.Len() != 0 {
		t.Errorf("console got %q", console.String())
	}
}

// TestUnwritableFile: a file that cannot be created is an error naming the key, not a silent console-only log.
func TestUnwritableFile(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := loggerConfig()
	cfg.File = filepath.Join(blocker, "latchkey.log") // a directory that is a file
	if _, _, err := New(cfg, &bytes.Buffer{}, "n"); err == nil || !strings.Contains(err.Error(), "logger.file") {
		t.Fatalf("New = %v, want an error naming logger.file", err)
	}
}
