package nakamaimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// BanReason is the reason recorded with the bans and unbans an import makes; an account banned with it
// is one the import may unban when Nakama unbans it.
const BanReason = "imported from Nakama"

// DefaultBatch is the number of accounts read, imported and checkpointed at a time.
const DefaultBatch = 1000

// maxListedConflicts bounds the conflicts a Summary lists; the rest are counted only, so that memory stays
// bounded by the batch whatever the data.
const maxListedConflicts = 10000

// Store is what the import needs of Latchkey's store.
type Store interface {
	ImportUser(ctx context.Context, u storage.ImportedUser) (storage.ImportOutcome, error)
	ImportCheckpoint(ctx context.Context, source string) (string, error)
	SetImportCheckpoint(ctx context.Context, source, lastID string) error
	UserByID(ctx context.Context, id string) (*storage.User, error)
	UserByIdentity(ctx context.Context, kind storage.IdentityKind, identity string) (*storage.User, error)
	UserByUsername(ctx context.Context, username string) (*storage.User, error)
	ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error)
}

// Bans bans and unbans accounts, ending their sessions on every node (sessions.Manager).
type Bans interface {
	Ban(ctx context.Context, userID, reason string) (int, error)
	Unban(ctx context.Context, userID, reason string) error
}

// Options says what to import and how.
type Options struct {
	Address string // Nakama's database address (see ConnString)
	Batch   int    // accounts per batch; DefaultBatch when < 1
	DryRun  bool   // read both databases, count what would change, write nothing
	Restart bool   // start from the first account even when the previous run was interrupted
	// Progress receives a line with the counts and the rate about once a second; nil for none.
	Progress io.Writer
	// AfterBatch, when set, is called after each batch is checkpointed (tests interrupt imports with it).
	AfterBatch func(lastID string)
}

// Conflict is an account not imported because another Latchkey account holds one of its identities.
type Conflict struct {
	UserID      string // the Nakama account's id
	Field       string // username, email, custom_id, device_id, or a platform id column
	OtherUserID string // the Latchkey account that holds it
}

// Summary counts what an import did (or, dry, would do).
type Summary struct {
	Source                            string
	From                              string // the id the run continued after; "" = from the start
	Read, Created, Updated, Unchanged int
	Banned, Unbanned, Skipped         int
	Conflicts                         []Conflict // at most maxListedConflicts
	ConflictCount                     int
	Complete                          bool // the run reached the last account
	Elapsed                           time.Duration
}

// Importer copies Nakama's accounts into a Latchkey store.
type Importer struct {
	store Store
	bans  Bans
}

// New returns an Importer writing to store, banning and unbanning through bans.
func New(store Store, bans Bans) *Importer { return &Importer{store: store, bans: bans} }

// Run imports every account of Nakama's database after the checkpoint (or from the first, see Options),
// checkpointing after each batch; a run that reaches the end clears the checkpoint, so that the next run
// is a full pass that picks up changes to accounts already imported. On error, including a cancelled ctx,
// the summary so far is returned with it.
func (im *Importer) Run(ctx context.Context, o Options) (Summary, error) {
	start := time.Now()
	conn, err := ConnString(o.Address)
	if err != nil {
		return Summary{}, err
	}
	batch := o.Batch
	if batch < 1 {
		batch = DefaultBatch
	}
	s := Summary{Source: Source(conn)}
	if !o.Restart {
		if s.From, err = im.store.ImportCheckpoint(ctx, s.Source); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return s, fmt.Errorf("reading the import checkpoint: %w", err)
		}
	}
	r, err := openReader(ctx, conn)
	if err != nil {
		return s, err
	}
	defer r.Close()
	p := progress{w: o.Progress, start: start, last: start}
	after := s.From
	for {
		accounts, err := r.page(ctx, after, batch)
		if err != nil {
			s.Elapsed = time.Since(start)
			return s, err
		}
		if len(accounts) == 0 {
			break
		}
		for _, a := range accounts {
			if err := im.one(ctx, a, o.DryRun, &s); err != nil {
				s.Elapsed = time.Since(start)
				return s, fmt.Errorf("importing account %s: %w", a.ID, err)
			}
			p.tick(&s)
		}
		after = accounts[len(accounts)-1].ID
		if !o.DryRun {
			if err := im.store.SetImportCheckpoint(ctx, s.Source, after); err != nil {
				s.Elapsed = time.Since(start)
				return s, fmt.Errorf("saving the import checkpoint: %w", err)
			}
		}
		if o.AfterBatch != nil {
			o.AfterBatch(after)
		}
		if len(accounts) < batch {
			break
		}
	}
	if !o.DryRun {
		if err := im.store.SetImportCheckpoint(ctx, s.Source, ""); err != nil {
			s.Elapsed = time.Since(start)
			return s, fmt.Errorf("saving the import checkpoint: %w", err)
		}
	}
	s.Complete = true
	s.Elapsed = time.Since(start)
	return s, nil
}

// one imports (or, dry, assesses) one account and its ban state.
func (im *Importer) one(ctx context.Context, a Account, dry bool, s *Summary) error {
	s.Read++
	if a.ID == SystemUserID {
		s.Skipped++
		return nil
	}
	var outcome storage.ImportOutcome
	var err error
	if dry {
		outcome, err = im.assess(ctx, a.ImportedUser)
	} else {
		outcome, err = im.store.ImportUser(ctx, a.ImportedUser)
	}
	var ce *storage.ImportConflict
	if errors.As(err, &ce) {
		s.ConflictCount++
		if len(s.Conflicts) < maxListedConflicts {
			s.Conflicts = append(s.Conflicts, Conflict{UserID: a.ID, Field: ce.Field, OtherUserID: ce.OtherUserID})
		}
		return nil
	}
	if err != nil {
		return err
	}
	switch outcome {
	case storage.ImportCreated:
		s.Created++
	case storage.ImportUpdated:
		s.Updated++
	default:
		s.Unchanged++
	}
	return im.banState(ctx, a, outcome == storage.ImportCreated && dry, dry, s)
}

// banState brings Latchkey's ban of the account in line with Nakama's: banned in Nakama and not in
// Latchkey is banned; not banned in Nakama and banned in Latchkey by an earlier import is unbanned. A ban
// made in Latchkey itself (an admin's) stays. absent says the account does not exist yet (a dry run).
func (im *Importer) banState(ctx context.Context, a Account, absent, dry bool, s *Summary) error {
	banned := false
	if !absent {
		u, err := im.store.UserByID(ctx, a.ID)
		if err != nil {
			return err
		}
		banned = u.Banned()
	}
	switch {
	case a.Banned && !banned:
		s.Banned++
		if !dry {
			if _, err := im.bans.Ban(ctx, a.ID, BanReason); err != nil {
				return err
			}
		}
	case !a.Banned && banned:
		ours, err := im.bannedByImport(ctx, a.ID)
		if err != nil || !ours {
			return err
		}
		s.Unbanned++
		if !dry {
			return im.bans.Unban(ctx, a.ID, BanReason)
		}
	}
	return nil
}

// eventPages bounds how far back bannedByImport looks for the account's last ban.
const eventPages, eventPage = 10, 100

// bannedByImport reports whether the account's latest ban was made by an import.
func (im *Importer) bannedByImport(ctx context.Context, userID string) (bool, error) {
	var before int64
	for range eventPages {
		evs, err := im.store.ListEvents(ctx, userID, before, eventPage)
		if err != nil {
			return false, err
		}
		for _, ev := range evs {
			if ev.Kind == storage.EventUserBanned {
				return ev.Reason == BanReason, nil
			}
		}
		if len(evs) < eventPage {
			return false, nil
		}
		before = evs[len(evs)-1].ID
	}
	return false, nil
}

// assess says what ImportUser would do with u, by reading only, with the store's own rules
// (storage.CheckImport, storage.ImportMatches).
func (im *Importer) assess(ctx context.Context, u storage.ImportedUser) (storage.ImportOutcome, error) {
	want, err := u.Account()
	if err != nil {
		return 0, err
	}
	cur, err := im.store.UserByID(ctx, want.ID)
	if errors.Is(err, storage.ErrNotFound) {
		cur, err = nil, nil
	}
	if err != nil {
		return 0, err
	}
	holder := func(v storage.ImportValue) (string, error) {
		var other *storage.User
		var err error
		if v.Kind == 0 {
			other, err = im.store.UserByUsername(ctx, v.Value)
		} else {
			other, err = im.store.UserByIdentity(ctx, v.Kind, v.Value)
		}
		if errors.Is(err, storage.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return other.ID, nil
	}
	switch err := storage.CheckImport(cur, want, holder); {
	case err != nil:
		return 0, err
	case cur == nil:
		return storage.ImportCreated, nil
	case storage.ImportMatches(cur, want):
		return storage.ImportUnchanged, nil
	}
	return storage.ImportUpdated, nil
}

// progress writes a progress line at most once a second.
type progress struct {
	w           io.Writer
	start, last time.Time
}

func (p *progress) tick(s *Summary) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	rate := float64(s.Read) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "nakama import: %d read, %d created, %d updated, %d unchanged, %d conflicts, %d banned, %d unbanned (%.0f accounts/s)\n",
		s.Read, s.Created, s.Updated, s.Unchanged, s.ConflictCount, s.Banned, s.Unbanned, rate)
}
