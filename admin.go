package latchkey

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

const usersUsage = `Usage: latchkey users ban|unban|delete USER_ID [--reason TEXT] [flags]

  ban      disable the account and end every session it has; it cannot authenticate or refresh
  unban    enable the account again (its ended sessions stay ended: the player logs in afresh)
  delete   end every session of the account and delete it with its identities (its device id, email
           or platform id can then create a fresh account)

Takes the same config flags as the server (--config, --data_dir, --database.address, ...) and acts on the
database the servers use. Running servers refuse the account's tokens within a second.
`

const sessionsUsage = `Usage: latchkey sessions list|events --user USER_ID [--limit N] [flags]

  list     the user's live sessions, newest first
  events   the user's security events, newest first (default limit 50)

Takes the same config flags as the server (--config, --data_dir, --database.address, ...).
`

// takeFlag removes "--name VALUE" or "--name=VALUE" (one or two dashes) from args and returns the value.
// The admin commands' own flags are taken out before the rest goes to the config loader, which knows
// only config keys.
func takeFlag(args []string, name string) (value string, found bool, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		trimmed := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if trimmed == a {
			rest = append(rest, a)
			continue
		}
		if v, ok := strings.CutPrefix(trimmed, name+"="); ok {
			value, found = v, true
			continue
		}
		if trimmed == name {
			if i+1 >= len(args) {
				return "", false, nil, fmt.Errorf("--%s needs a value", name)
			}
			value, found = args[i+1], true
			i++
			continue
		}
		rest = append(rest, a)
	}
	return value, found, rest, nil
}

// admin opens the store and services the server would use, without listening, for one command. It opens
// only a store that exists (server.Options.Existing), and says which.
func (a *App) admin(ctx context.Context, cfg config.Config) (*server.Server, error) {
	srv, err := server.New(ctx, cfg, server.Options{Existing: true})
	if err != nil {
		return nil, err
	}
	a.opened(srv.StoreName())
	return srv, nil
}

// userID checks that s is a user id: a UUID in the canonical lowercase form the store uses.
func userID(s string) (string, error) {
	if _, ok := tokens.ParseID(s); !ok {
		return "", fmt.Errorf("%q is not a user id (a UUID)", s)
	}
	return s, nil
}

func (a *App) users(ctx context.Context, args []string) error {
	reason, _, args, err := takeFlag(args, "reason")
	if err != nil {
		return err
	}
	cfg, rest, _, err := a.command(args)
	if err != nil {
		return err
	}
	if len(rest) != 2 || (rest[0] != "ban" && rest[0] != "unban" && rest[0] != "delete") {
		return &usageError{cmd: "users", msg: "say ban, unban or delete USER_ID"}
	}
	id, err := userID(rest[1])
	if err != nil {
		return err
	}
	srv, err := a.admin(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	if reason == "" {
		reason = "admin command"
	}
	if rest[0] == "delete" {
		if err := srv.Sessions.DeleteAccount(ctx, id, reason); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "deleted %s; its sessions are ended on every server\n", id)
		return nil
	}
	if rest[0] == "ban" {
		n, err := srv.Sessions.Ban(ctx, id, reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "banned %s; ended %d session(s)\n", id, n)
		return nil
	}
	if err := srv.Sessions.Unban(ctx, id, reason); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "unbanned %s\n", id)
	return nil
}

func (a *App) sessions(ctx context.Context, args []string) error {
	user, found, args, err := takeFlag(args, "user")
	if err != nil {
		return err
	}
	limitText, _, args, err := takeFlag(args, "limit")
	if err != nil {
		return err
	}
	if !found {
		return &usageError{cmd: "sessions", msg: "--user USER_ID is required"}
	}
	id, err := userID(user)
	if err != nil {
		return err
	}
	limit := 50
	if limitText != "" {
		if limit, err = strconv.Atoi(limitText); err != nil || limit < 1 {
			return fmt.Errorf("--limit: %q is not a positive number", limitText)
		}
	}
	cfg, rest, _, err := a.command(args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || (rest[0] != "list" && rest[0] != "events") {
		return &usageError{cmd: "sessions", msg: "say list or events"}
	}
	srv, err := a.admin(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	switch rest[0] {
	case "list":
		list, _, err := srv.Sessions.List(ctx, id, "", limit)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "SESSION\tCREATED\tREFRESHED\tEXPIRES\tCLIENT IP\tUSER AGENT")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, ts(s.CreateTime), ts(s.RefreshTime), ts(s.ExpireTime), dash(s.ClientIP), dash(s.UserAgent))
		}
	case "events":
		evs, err := srv.Sessions.Events(ctx, id, 0, limit)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tTIME\tEVENT\tSESSION\tCLIENT IP\tREASON")
		for _, e := range evs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, ts(e.Time), e.Kind, dash(e.SessionID), dash(e.ClientIP), dash(e.Reason))
		}
	}
	return nil
}
