// Package logging builds the server's structured logger from the logger.* settings: text or JSON lines, on
// the console, in a file, or both, with size-based rotation of the file.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/latchkeyhq/latchkey/internal/config"
)

// File modes of what New creates: the log names accounts and client addresses, so only the owner and
// its group (a log shipper's) may read it.
const (
	fileMode = 0o640
	dirMode  = 0o750
)

// New returns the logger cfg describes, every line tagged with node, and the closer of its file (a no-op
// when there is none), which the caller closes after the last line. The console is where cfg.Stdout
// writes: the server passes standard error. With neither Stdout nor File the logger discards everything.
// cfg is expected to have passed config.Validate; Level and Format are read in any case.
func New(cfg config.LoggerConfig, console io.Writer, node string) (*slog.Logger, io.Closer, error) {
	opts := &slog.HandlerOptions{Level: Level(cfg.Level)}
	handler := func(w io.Writer) slog.Handler {
		if strings.EqualFold(cfg.Format, "json") {
			return slog.NewJSONHandler(w, opts)
		}
		return slog.NewTextHandler(w, opts)
	}
	var handlers []slog.Handler
	if cfg.Stdout && console != nil {
		handlers = append(handlers, handler(console))
	}
	var closer io.Closer = nopCloser{}
	if cfg.File != "" {
		f, err := openFile(cfg)
		if err != nil {
			return nil, nil, err
		}
		handlers = append(handlers, handler(f))
		closer = f
	}
	var h slog.Handler
	switch len(handlers) {
	case 0:
		h = slog.DiscardHandler
	case 1:
		h = handlers[0]
	default:
		// Each handler formats and writes on its own, so that a full disk under the file does not cost
		// the console its lines.
		h = slog.NewMultiHandler(handlers...)
	}
	return slog.New(h).With("node", node), closer, nil
}

// Level returns the slog level a logger.level name (any case) stands for; an unknown name is info.
func Level(name string) slog.Level {
	switch strings.ToLower(name) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// openFile opens cfg.File for appending, creating it and its directories, behind the rotator when
// cfg.Rotation is set. The file is created here, not by the rotator, so that it gets fileMode; the rotator
// gives each new file the mode of the one it replaces.
func openFile(cfg config.LoggerConfig) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.File), dirMode); err != nil {
		return nil, fmt.Errorf("logger.file: %w", err)
	}
	f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("logger.file: %w", err)
	}
	if !cfg.Rotation {
		return f, nil
	}
	f.Close()
	return &lumberjack.Logger{
		Filename:   cfg.File,
		MaxSize:    cfg.MaxSize,
		MaxAge:     cfg.MaxAge,
		MaxBackups: cfg.MaxBackups,
		LocalTime:  cfg.LocalTime,
		Compress:   cfg.Compress,
	}, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
