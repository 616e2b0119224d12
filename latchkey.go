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
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/logging"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/runtime"
)

// Options configure an App. Zero values mean the process's own stdout, stderr and environment.
type Options struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Environ is the environment as KEY=VALUE entries, for the warning about LATCHKEY_ variables that name
	// no key. Nil means os.Environ(); with Getenv nil too, the config is read from it as well.
	Environ []string
	// Modules are the studio's server code (see package runtime), loaded by serve before it listens.
	Modules []runtime.InitModule
	// Reload delivers the signals on which serve reloads its TLS certificate (Run passes SIGHUP).
	Reload <-chan os.Signal
}

// App is one Latchkey program: the server and its subcommands.
type App struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        []string
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
	a := &App{stdout: o.Stdout, stderr: o.Stderr, getenv: o.Getenv, environ: o.Environ, modules: o.Modules, reload: o.Reload}
	if a.stdout == nil {
		a.stdout = os.Stdout
	}
	if a.stderr == nil {
		a.stderr = os.Stderr
	}
	switch {
	case a.getenv == nil && a.environ != nil:
		a.getenv = lookupIn(a.environ)
	case a.getenv == nil:
		a.getenv = os.Getenv
	}
	if a.environ == nil {
		a.environ = os.Environ()
	}
	return a
}

// lookupIn returns a getenv that reads environ; a later entry wins, as in os.Environ.
func lookupIn(environ []string) func(string) string {
	return func(key string) string {
		v := ""
		for _, kv := range environ {
			if k, val, ok := strings.Cut(kv, "="); ok && k == key {
				v = val
			}
		}
		return v
	}
}

const usage = `Latchkey: Nakama-compatible authentication and sessions for games.

Usage:
  latchkey [serve] [flags]
      start the server (the default command)
  latchkey migrate up|down [N|all]|status [flags]
      manage the database schema; only 'up' creates a database
  latchkey users ban|unban|delete USER_ID [--reason TEXT] [flags]
      ban, unban or delete an account (takes effect on running servers)
  latchkey sessions list|events --user USER_ID [--limit N] [flags]
      a user's live sessions or security events
  latchkey import nakama --from ADDRESS [--dry-run] [--batch N] [--restart] [flags]
      copy a Nakama database's accounts into the store (resumable; reads Nakama only)
  latchkey healthcheck [flags]
      exit 0 when the server on this machine answers GET /healthcheck, 1 otherwise (for HEALTHCHECK)
  latchkey verifier --latchkey URL --audience AUDIENCE [--listen ADDR]
      verify join tickets for a game server: POST /verify on 127.0.0.1:7360 (own flags only)
  latchkey version | --version | -v
      print the version, commit, build date and Go version
  latchkey help [COMMAND | config]
      this help, a command's help (also 'latchkey COMMAND --help'), or every config key

Flags (every command but verifier, version and help):
  --config FILE          a YAML config file with Nakama's key names (may be repeated)
  --SECTION.KEY VALUE    any config key, e.g. --session.token_expiry_sec 120
Environment: LATCHKEY_SECTION_KEY, e.g. LATCHKEY_SESSION_TOKEN_EXPIRY_SEC=120; a LATCHKEY_ variable that
names no key is warned about.
Precedence, lowest first: defaults, config files in order, environment, flags.

The commands other than serve, 'migrate up' and import open only a database that exists, and say on
standard error which one they opened.
Run 'latchkey help config' for every key with its default.
`

const serveUsage = `Usage: latchkey [serve] [flags]

Starts the HTTP API on socket.address:socket.port (default :7350). The port is bound before the database
is opened, so a second server on a taken port stops without touching it. With database.address empty, the
data lives in an embedded SQLite database in data_dir (default ./data), created and migrated on first
start; data_dir/latchkey.db.id records which store it holds, and a later start that finds the database
missing, empty or replaced stops instead of starting an empty store (--database.create_fresh starts
anyway). A serving node holds data_dir/latchkey.lock locked: a second server on the same data_dir is
refused (several nodes share a PostgreSQL database, database.address), while the other commands run
alongside it.
GET /readyz answers 200 while the store takes writes, 503 while it cannot.
Logs as logger.* say: text or JSON, on standard error and/or logger.file, rotated with logger.rotation.
Stops gracefully on SIGINT or SIGTERM: new connections are refused, sockets get a close frame, and
requests in flight get shutdown_grace_sec (default 10) to finish. With socket.ssl_certificate set, it
serves HTTPS and WSS only and reloads the certificate pair on SIGHUP.
`

const migrateUsage = `Usage: latchkey migrate up|down|status [flags]

  up       apply every pending migration (creates the database if there is none)
  down [N] roll back the last N migrations (default 1; 'all' for every one)
  status   list migrations and whether each is applied

Takes the same config flags as the server, so it acts on the database the server would use. down and
status open only a database that exists.
`

const versionUsage = `Usage: latchkey version (or latchkey --version, latchkey -v)

Prints the version, the commit and build date the release stamped (or the Go toolchain recorded), and the
Go version and platform, for example:

  latchkey v0.3.0 (commit abc1234, built 2026-11-30T05:00:00Z, go1.26.8 linux/amd64)
`

const helpUsage = `Usage: latchkey help [COMMAND | config]

Without an argument, lists every command. With a command (serve, migrate, users, sessions, healthcheck,
verifier, version), shows its help; 'latchkey COMMAND --help' does the same. 'latchkey help config' lists every
config key with its default.
`

// usageError is a command line that asks for no valid action. Main prints it with the command's help and
// exits 2, before anything is opened.
type usageError struct {
	cmd, msg string
}

func (e *usageError) Error() string { return e.cmd + ": " + e.msg }

// Main runs the program with args (without the program name) and returns the exit code.
func (a *App) Main(ctx context.Context, args []string) int {
	cmd, named := "serve", false
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "-v") {
		cmd, args = "version", args[1:]
	} else if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args, named = args[0], args[1:], true
	}
	if wantsHelp(args) {
		if !named && cmd == "serve" {
			return a.help(a.stdout, "") // 'latchkey --help' is about every command; 'latchkey serve --help' about serve
		}
		return a.help(a.stdout, cmd)
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
	case "import":
		err = a.importCmd(ctx, args)
	case "verifier":
		err = a.verifier(ctx, args)
	case "healthcheck":
		// A container engine reads exit 1 as unhealthy and reserves 2, so every failure is 1, in one line.
		if err := a.healthcheck(ctx, args); err != nil {
			fmt.Fprintf(a.stderr, "latchkey healthcheck: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
			return 1
		}
		return 0
	case "version":
		if len(args) > 0 {
			fmt.Fprintf(a.stderr, "latchkey version: unexpected argument %q\n\n%s", args[0], versionUsage)
			return 2
		}
		fmt.Fprintln(a.stdout, currentBuild())
	case "help":
		topic := ""
		if len(args) > 0 {
			topic = args[0]
		}
		return a.help(a.stdout, topic)
	default:
		fmt.Fprintf(a.stderr, "latchkey: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		var ce *config.Error
		var ue *usageError
		switch {
		case errors.As(err, &ce):
			fmt.Fprintf(a.stderr, "latchkey: invalid configuration:\n%s\n", err)
			return 2
		case errors.As(err, &ue):
			fmt.Fprintf(a.stderr, "latchkey %s\n\n", err)
			a.help(a.stderr, ue.cmd)
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

// help prints the help of topic (a command, config, or "" for every command) to w: standard output when
// asked for, standard error with a usage error.
func (a *App) help(w io.Writer, topic string) int {
	text := map[string]string{
		"": usage, "serve": serveUsage, "migrate": migrateUsage, "users": usersUsage, "sessions": sessionsUsage,
		"healthcheck": healthcheckUsage, "version": versionUsage, "help": helpUsage, "verifier": verifierUsage,
		"import": importUsage,
	}
	if topic == "config" {
		fmt.Fprint(w, "Configuration keys (YAML key, flag --KEY, environment LATCHKEY_KEY):\n\n")
		config.FormatKeys(w)
		return 0
	}
	t, ok := text[topic]
	if !ok {
		fmt.Fprintf(a.stderr, "latchkey: no help for %q\n", topic)
		return 2
	}
	fmt.Fprint(w, t)
	return 0
}

// loadConfig loads and validates the config from args and the environment, returning what is left. Every
// problem, of loading and of validation, is in the one error.
func (a *App) loadConfig(args []string) (config.Config, []string, error) {
	cfg, rest, err := config.LoadValid(args, a.getenv)
	if err != nil {
		// The warnings still help: a misspelt variable may be why a setting is not what it should be.
		a.warnEnv(a.commandLogger(config.Default()))
		return cfg, nil, err
	}
	return cfg, rest, nil
}

// command loads the config of a command other than serve, and returns it with the rest of args and the
// command's logger, having warned about LATCHKEY_ variables that name no key.
func (a *App) command(args []string) (config.Config, []string, *slog.Logger, error) {
	cfg, rest, err := a.loadConfig(args)
	if err != nil {
		return cfg, nil, nil, err
	}
	log := a.commandLogger(cfg)
	a.warnEnv(log)
	return cfg, rest, log, nil
}

// commandLogger is the logger of a command other than serve: logger.level and logger.format, on standard
// error only. logger.file is the serving node's, and a command running beside it must not rotate it.
func (a *App) commandLogger(cfg config.Config) *slog.Logger {
	lc := cfg.Logger
	lc.Stdout, lc.File = true, ""
	log, _, err := logging.New(lc, a.stderr, cfg.Name)
	if err != nil { // without a file there is nothing to fail
		panic(err)
	}
	return log
}

// warnEnv logs a warning for every LATCHKEY_ variable of the environment that names no key.
func (a *App) warnEnv(log *slog.Logger) {
	for _, w := range config.EnvWarnings(a.environ) {
		log.Warn(w)
	}
}

// opened tells the person at the terminal which store a command opened, on standard error, so that one run
// against the wrong data_dir or database is noticed.
func (a *App) opened(where string) {
	if path, ok := strings.CutPrefix(where, "sqlite:"); ok {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		fmt.Fprintf(a.stderr, "latchkey: opened SQLite database %s (data_dir %s)\n", abs, filepath.Dir(path))
		return
	}
	fmt.Fprintf(a.stderr, "latchkey: opened PostgreSQL database %s\n", strings.TrimPrefix(where, "postgres:"))
}

func (a *App) serve(ctx context.Context, args []string) error {
	cfg, rest, err := a.loadConfig(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &usageError{cmd: "serve", msg: fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	log, logFile, err := logging.New(cfg.Logger, a.stderr, cfg.Name)
	if err != nil {
		return err
	}
	defer logFile.Close()
	a.warnEnv(log)
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	// The port first: a second server on a taken port stops before it opens, creates or migrates a store.
	ln, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr(), err)
	}
	defer ln.Close() // Serve closes it too; this is for the returns before Serve
	if cfg.DatabaseAddress() == "" {
		lock, err := server.LockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer lock.Close()
	}
	srv, err := server.New(ctx, cfg, server.Options{Logger: log, Modules: a.modules, Version: Version})
	if err != nil {
		return err
	}
	defer srv.Close()
	stopReload := reloadOnSignal(a.reload, srv)
	defer stopReload()
	return srv.Serve(ctx, ln)
}

// migrateSteps parses the arguments of migrate: the action, and for down the number of steps (0 for all).
func migrateSteps(rest []string) (action string, steps int, err error) {
	usage := func(format string, args ...any) (string, int, error) {
		return "", 0, &usageError{cmd: "migrate", msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case len(rest) == 0:
		return usage("say up, down or status")
	case rest[0] != "up" && rest[0] != "down" && rest[0] != "status":
		return usage("unknown action %q (want up, down or status)", rest[0])
	case rest[0] == "down" && len(rest) == 2:
		if rest[1] == "all" {
			return "down", 0, nil
		}
		if steps, err = strconv.Atoi(rest[1]); err != nil || steps < 1 {
			return usage("down: %q is not a positive number or 'all'", rest[1])
		}
		return "down", steps, nil
	case len(rest) > 1:
		return usage("unexpected argument %q", rest[1])
	}
	return rest[0], 1, nil
}

func (a *App) migrate(ctx context.Context, args []string) error {
	cfg, rest, _, err := a.command(args)
	if err != nil {
		return err
	}
	action, steps, err := migrateSteps(rest)
	if err != nil {
		return err
	}
	// Only up may create the database; down and status on a database that is not there are mistakes.
	open := server.OpenExistingBackend
	if action == "up" {
		open = server.OpenBackend
	}
	st, where, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	a.opened(where)
	switch action {
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
	}
	return nil
}
