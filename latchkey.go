// Package latchkey is the launcher of the Latchkey server: cmd/latchkey is a thin main around it, and a
// studio's own main.go uses it the same way to run the server with its compiled-in server code.
package latchkey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/runtime"
)

// Version is the server version, set at build time with -ldflags "-X github.com/latchkeyhq/latchkey.Version=...".
var Version = "dev"

// Options configure an App. Zero values mean the process's own stdout, stderr and environment.
type Options struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Modules are the studio's server code (see package runtime), loaded by serve before it listens.
	Modules []runtime.InitModule
	// Reload delivers the signals on which serve reloads its TLS certificate (Run passes SIGHUP).
	Reload <-chan os.Signal
}

// App is one Latchkey program: the server and its subcommands.
type App struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	modules        []runtime.InitModule
	reload         <-chan os.Signal
}

// Run is the whole main function of a Latchkey binary with the given modules: it runs the command line
// (serve by default, and every subcommand of cmd/latchkey, with the same config and flags), stops
// gracefully on SIGINT or SIGTERM, reloads the TLS certificate on SIGHUP, and exits with the command's status.
//
//	func main() { latchkey.Run(InitModule) }
func Run(modules ...runtime.InitModule) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := New(Options{Modules: modules, Reload: hangups()}).Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// New returns an App.
func New(o Options) *App {
	a := &App{stdout: o.Stdout, stderr: o.Stderr, getenv: o.Getenv, modules: o.Modules, reload: o.Reload}
	if a.stdout == nil {
		a.stdout = os.Stdout
	}
	if a.stderr == nil {
		a.stderr = os.Stderr
	}
	if a.getenv == nil {
		a.getenv = os.Getenv
	}
	return a
}

const usage = `Latchkey: Nakama-compatible authentication and sessions for games.

Usage:
  latchkey [serve] [flags]           start the server (the default command)
  latchkey migrate up|down|status    manage the database schema
  latchkey users ban|unban|delete USER_ID
                                     ban, unban or delete an account (takes effect on running servers)
  latchkey sessions list|events --user USER_ID
                                     a user's live sessions or security events
  latchkey version                   print the version
  latchkey help [command]            show help

Flags (every command):
  --config FILE          a YAML config file with Nakama's key names (may be repeated)
  --SECTION.KEY VALUE    any config key, e.g. --session.token_expiry_sec 120
Environment: LATCHKEY_SECTION_KEY, e.g. LATCHKEY_SESSION_TOKEN_EXPIRY_SEC=120.
Precedence, lowest first: defaults, config files in order, environment, flags.

Run 'latchkey help config' for every key with its default.
`

const serveUsage = `Usage: latchkey [serve] [flags]

Starts the HTTP API on socket.address:socket.port (default :7350). With database.address empty, the data
lives in an embedded SQLite database in data_dir (default ./data), created and migrated on first start;
data_dir/latchkey.db.id records which store it holds, and a later start that finds the database missing,
empty or replaced stops instead of starting an empty store (--database.create_fresh starts anyway).
GET /readyz answers 200 while the store takes writes, 503 while it cannot.
Stops gracefully on SIGINT or SIGTERM. With socket.ssl_certificate set, it serves HTTPS and WSS only and
reloads the certificate pair on SIGHUP.
`

const migrateUsage = `Usage: latchkey migrate up|down|status [flags]

  up       apply every pending migration
  down [N] roll back the last N migrations (default 1; 'all' for every one)
  status   list migrations and whether each is applied

Takes the same config flags as the server, so it acts on the database the server would use.
`

// Main runs the program with args (without the program name) and returns the exit code.
func (a *App) Main(ctx context.Context, args []string) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if wantsHelp(args) {
		return a.help(cmd)
	}
	var err error
	switch cmd {
	case "serve":
		err = a.serve(ctx, args)
	case "migrate":
		err = a.migrate(ctx, args)
	case "users":
		err = a.users(ctx, args)
	case "sessions":
		err = a.sessions(ctx, args)
	case "version":
		fmt.Fprintln(a.stdout, "latchkey", Version)
	case "help":
		topic := ""
		if len(args) > 0 {
			topic = args[0]
		}
		return a.help(topic)
	default:
		fmt.Fprintf(a.stderr, "latchkey: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(a.stderr, "latchkey: invalid configuration:\n%s\n", err)
			return 2
		}
		fmt.Fprintf(a.stderr, "latchkey: %v\n", err)
		return 1
	}
	return 0
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

func (a *App) help(topic string) int {
	switch topic {
	case "", "help":
		fmt.Fprint(a.stdout, usage)
	case "serve":
		fmt.Fprint(a.stdout, serveUsage)
	case "migrate":
		fmt.Fprint(a.stdout, migrateUsage)
	case "users":
		fmt.Fprint(a.stdout, usersUsage)
	case "sessions":
		fmt.Fprint(a.stdout, sessionsUsage)
	case "config":
		fmt.Fprint(a.stdout, "Configuration keys (YAML key, flag --KEY, environment LATCHKEY_KEY):\n\n")
		config.FormatKeys(a.stdout)
	default:
		fmt.Fprintf(a.stderr, "latchkey: no help for %q\n", topic)
		return 2
	}
	return 0
}

// loadConfig loads and validates the config from args and the environment, returning what is left.
func (a *App) loadConfig(args []string) (config.Config, []string, error) {
	cfg, rest, err := config.Load(args, a.getenv)
	if err != nil {
		return cfg, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, err
	}
	return cfg, rest, nil
}

func (a *App) logger(cfg config.Config) *slog.Logger {
	level := slog.LevelInfo
	switch cfg.Logger.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})).With("node", cfg.Name)
}

func (a *App) serve(ctx context.Context, args []string) error {
	cfg, rest, err := a.loadConfig(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("serve: unexpected argument %q", rest[0])
	}
	log := a.logger(cfg)
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	srv, err := server.New(ctx, cfg, server.Options{Logger: log, Modules: a.modules, Version: Version})
	if err != nil {
		return err
	}
	defer srv.Close()
	stopReload := reloadOnSignal(a.reload, srv)
	defer stopReload()
	ln, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr(), err)
	}
	return srv.Serve(ctx, ln)
}

func (a *App) migrate(ctx context.Context, args []string) error {
	cfg, rest, err := a.loadConfig(args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return errors.New("migrate: say up, down or status (see 'latchkey help migrate')")
	}
	st, where, err := server.OpenBackend(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch rest[0] {
	case "up":
		applied, err := st.MigrateUp(ctx)
		if err != nil {
			return err
		}
		for _, m := range applied {
			fmt.Fprintf(a.stdout, "applied %04d %s\n", m.Version, m.Name)
		}
		fmt.Fprintf(a.stdout, "%s: %d migration(s) applied\n", where, len(applied))
	case "down":
		steps := 1
		if len(rest) > 1 {
			if rest[1] == "all" {
				steps = 0
			} else if steps, err = strconv.Atoi(rest[1]); err != nil || steps < 1 {
				return fmt.Errorf("migrate down: %q is not a positive number or 'all'", rest[1])
			}
		}
		reverted, err := st.MigrateDown(ctx, steps)
		if err != nil {
			return err
		}
		for _, m := range reverted {
			fmt.Fprintf(a.stdout, "reverted %04d %s\n", m.Version, m.Name)
		}
		fmt.Fprintf(a.stdout, "%s: %d migration(s) reverted\n", where, len(reverted))
	case "status":
		status, err := st.MigrateStatus(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s\n", where)
		for _, s := range status {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(a.stdout, "%04d %-30s %s\n", s.Version, s.Name, state)
		}
	default:
		return fmt.Errorf("migrate: unknown action %q (want up, down or status)", rest[0])
	}
	return nil
}
