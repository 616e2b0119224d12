package latchkey

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/latchkeyhq/latchkey/internal/nakamaimport"
	"github.com/latchkeyhq/latchkey/internal/server"
)

const importUsage = `Usage: latchkey import nakama --from ADDRESS [--dry-run] [--batch N] [--restart] [flags]

Copies every account of a Nakama database (PostgreSQL or CockroachDB) into the configured store, with
the same user ids: profile, metadata, email and bcrypt password hash, custom id, device ids, platform
ids, verify time and ban state. Nakama's database is only read.

  --from ADDRESS   Nakama's database: a postgres:// URL, or Nakama's database.address form
                   user:password@host:port/dbname (database nakama when none is named)
  --dry-run        read both databases and report what would change; write nothing
  --batch N        accounts per batch and checkpoint (default 1000)
  --restart        start from the first account even if the previous run was interrupted

A run continues after the last account of an interrupted run, and starts over after a complete one:
every complete pass updates changed accounts and adds new ones. An account whose username, email,
custom id, device id or platform id belongs to another Latchkey account is a conflict: it is
reported (account id and field) and left as it is. Progress goes to standard error every second, the
summary to standard output; the exit code is 1 when the run stopped early, 0 otherwise.

Takes the same config flags as the server; it creates and migrates the store if needed, as
'migrate up' does, and says which it opened.
`

func (a *App) importCmd(ctx context.Context, args []string) error {
	from, found, args, err := takeFlag(args, "from")
	if err != nil {
		return err
	}
	batchText, _, args, err := takeFlag(args, "batch")
	if err != nil {
		return err
	}
	dry, args := takeSwitch(args, "dry-run")
	restart, args := takeSwitch(args, "restart")
	cfg, rest, _, err := a.command(args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || rest[0] != "nakama" {
		return &usageError{cmd: "import", msg: "say nakama (the only source)"}
	}
	if !found || from == "" {
		return &usageError{cmd: "import", msg: "--from ADDRESS is required"}
	}
	batch := nakamaimport.DefaultBatch
	if batchText != "" {
		if batch, err = strconv.Atoi(batchText); err != nil || batch < 1 {
			return fmt.Errorf("--batch: %q is not a positive number", batchText)
		}
	}
	conn, err := nakamaimport.ConnString(from)
	if err != nil {
		return err
	}
	// The import may come before any server ran: the store is created and migrated as 'migrate up' would.
	st, _, err := server.OpenBackend(ctx, cfg)
	if err != nil {
		return err
	}
	_, err = st.MigrateUp(ctx)
	st.Close()
	if err != nil {
		return err
	}
	srv, err := a.admin(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(a.stderr, "latchkey: reading Nakama database %s\n", describe(conn))
	im := nakamaimport.New(srv.Store(), srv.Sessions)
	sum, runErr := im.Run(ctx, nakamaimport.Options{Address: from, Batch: batch, DryRun: dry, Restart: restart, Progress: a.stderr})
	a.importSummary(sum, dry)
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) && !dry {
			return fmt.Errorf("import interrupted: run the command again to continue from the last checkpoint")
		}
		return runErr
	}
	return nil
}

// describe names a Nakama connection string without its password.
func describe(conn string) string {
	u, err := url.Parse(conn)
	if err != nil {
		return "(unparsable address)"
	}
	return u.Host + u.Path
}

// importSummary prints what an import did, conflicts listed one a line.
func (a *App) importSummary(s nakamaimport.Summary, dry bool) {
	w := a.stdout
	verb := "import"
	if dry {
		verb = "dry run (nothing written)"
	}
	state := "complete"
	if !s.Complete {
		state = "stopped early"
	}
	from := "from the first account"
	if s.From != "" {
		from = "continued after " + s.From
	}
	fmt.Fprintf(w, "nakama %s: %s, %s, %.1fs\n", verb, state, from, s.Elapsed.Seconds())
	fmt.Fprintf(w, "  read %d, created %d, updated %d, unchanged %d, conflicts %d, skipped %d\n",
		s.Read, s.Created, s.Updated, s.Unchanged, s.ConflictCount, s.Skipped)
	fmt.Fprintf(w, "  banned %d, unbanned %d\n", s.Banned, s.Unbanned)
	for _, c := range s.Conflicts {
		fmt.Fprintf(w, "  conflict: account %s not imported: its %s belongs to account %s\n", c.UserID, c.Field, c.OtherUserID)
	}
	if n := s.ConflictCount - len(s.Conflicts); n > 0 {
		fmt.Fprintf(w, "  ... and %d more conflicts\n", n)
	}
}

// takeSwitch removes the flag "--name" (one or two dashes, or --name=true) from args and says whether it
// was there.
func takeSwitch(args []string, name string) (bool, []string) {
	var rest []string
	on := false
	for i, a := range args {
		if a == "--" {
			return on, append(rest, args[i:]...)
		}
		switch a {
		case "-" + name, "--" + name, "--" + name + "=true", "-" + name + "=true":
			on = true
		case "--" + name + "=false", "-" + name + "=false":
		default:
			rest = append(rest, a)
		}
	}
	return on, rest
}
