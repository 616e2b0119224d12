// Package accounts provides account resolution and management: device, email and custom-id
// authentication with Nakama's input rules, username and password login with a lockout after repeated
// wrong passwords, profile reads and updates, and password hashing bounded so that it cannot starve the
// rest of the server.
package accounts

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/latchkeyhq/latchkey/internal/limits"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// Deps are the service's collaborators.
type Deps struct {
	Users storage.Users
	// Clock returns the current time; tests inject a fixed one.
	Clock func() time.Time
	// Rand is the randomness for ids and generated usernames; crypto/rand when nil.
	Rand io.Reader
	// BcryptCost is the cost of new password hashes.
	BcryptCost int
	// MaxConcurrentHashes bounds concurrent bcrypt work; 0 means half the CPUs, at least one.
	MaxConcurrentHashes int
	// MaxHashQueue bounds the requests waiting for a bcrypt slot, and MaxHashWait how long each waits;
	// beyond either the request fails at once with ErrHashBusy. 0 means 32 and 1 s. Slots are shared
	// fairly between client addresses (see WithClientIP and limits.Admission).
	MaxHashQueue int
	MaxHashWait  time.Duration
	// Lockout refuses password logins to an account after repeated wrong passwords, without running
	// bcrypt; its zero value (Failures 0) never locks. Its Clock defaults to Clock.
	Lockout limits.LockoutConfig
	// Events records a login_locked event when a lockout starts; optional.
	Events storage.Events
	// Logger reports events that could not be recorded; optional.
	Logger *slog.Logger
	// CacheTTL enables the account read cache of Account with this lifetime; 0 disables it.
	CacheTTL time.Duration
	// CacheSize bounds the cache's entries; 0 means 10,000.
	CacheSize int
	// Observer is told of bcrypt queue waits and of the logins the limits refuse (internal/metrics); nil:
	// none.
	Observer Observer
}

// Observer is told what the service's limits do, for metrics. Its methods must be quick and safe for
// concurrent use.
type Observer interface {
	// HashWait records how long a password hash or check waited for a bcrypt slot, whether it got one or
	// was refused.
	HashWait(d time.Duration)
	// Refused counts a request refused by a limit: "login_lockout" or "hash_queue".
	Refused(limit string)
}

// Service resolves and manages accounts.
type Service struct {
	users  storage.Users
	clock  func() time.Time
	rand   io.Reader
	cost   int
	hashes *limits.Admission // one slot per bcrypt operation in flight, with a bounded, fair queue
	cache  *cache            // nil when disabled

	hashRuns  atomic.Uint64 // bcrypt operations run
	hashNanos atomic.Int64  // how long the latest bcrypt operation took, for Retry-After estimates
	lockout   *limits.Lockout
	events    storage.Events
	log       *slog.Logger
	obs       Observer // nil: not observed
}

// New returns a Service.
func New(d Deps) *Service {
	s := &Service{users: d.Users, clock: d.Clock, rand: d.Rand, cost: d.BcryptCost, obs: d.Observer}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.cost == 0 {
		s.cost = bcrypt.DefaultCost
	}
	n := d.MaxConcurrentHashes
	if n <= 0 {
		n = max(1, runtime.GOMAXPROCS(0)/2)
	}
	queue, wait := d.MaxHashQueue, d.MaxHashWait
	if queue <= 0 {
		queue = 32
	}
	if wait <= 0 {
		wait = time.Second
	}
	s.hashes = limits.NewAdmission(limits.AdmissionConfig{Slots: n, MaxQueue: queue, MaxWait: wait})
	lc := d.Lockout
	if lc.Clock == nil {
		lc.Clock = s.clock
	}
	s.lockout, s.events, s.log = limits.NewLockout(lc), d.Events, d.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if d.CacheTTL > 0 {
		size := d.CacheSize
		if size <= 0 {
			size = 10000
		}
		s.cache = newCache(d.CacheTTL, size, s.clock)
	}
	return s
}

// Result is the outcome of an authentication.
type Result struct {
	User    *storage.User
	Created bool
}

// AuthenticateDevice finds the account linked to a device id, creating it (and the link) when create is
// true and it does not exist. username is only used for a new account; empty means a generated one.
func (s *Service) AuthenticateDevice(ctx context.Context, deviceID, username string, create bool) (Result, error) {
	if err := validateDeviceID(deviceID); err != nil {
		return Result{}, err
	}
	return s.findOrCreate(ctx, storage.IdentityDevice, deviceID, username, create)
}

// AuthenticateCustom is AuthenticateDevice for a custom id.
func (s *Service) AuthenticateCustom(ctx context.Context, customID, username string, create bool) (Result, error) {
	if err := validateCustomID(customID); err != nil {
		return Result{}, err
	}
	return s.findOrCreate(ctx, storage.IdentityCustom, customID, username, create)
}

// AuthenticateEmail logs in with an email and password, creating the account when create is true. With an
// empty email it is a username and password login instead, where create is ignored, as in Nakama.
func (s *Service) AuthenticateEmail(ctx context.Context, email, password, username string, create bool) (Result, error) {
	if err := validatePassword(password); err != nil {
		return Result{}, err
	}
	if email == "" {
		if username == "" {
			return Result{}, ErrUsernameRequired
		}
		return s.loginUsername(ctx, username, password)
	}
	if err := validateEmail(email); err != nil {
		return Result{}, err
	}
	email = strings.ToLower(email)
	if username != "" {
		if err := ValidateUsername(username); err != nil {
			return Result{}, err
		}
	}
	u, err := s.users.UserByIdentity(ctx, storage.IdentityEmail, email)
	switch {
	case err == nil:
		// The ban is checked before the password, as Nakama does: a banned account learns nothing more.
		if u.Banned() {
			return Result{}, ErrBanned
		}
		if err := s.checkPassword(ctx, u.ID, u.Password, password); err != nil {
			return Result{}, err
		}
		return Result{User: u}, nil
	case !errors.Is(err, storage.ErrNotFound):
		return Result{}, err
	case !create:
		return Result{}, ErrUserNotFound
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return Result{}, err
	}
	return s.create(ctx, storage.IdentityEmail, email, username, hash, password)
}

func (s *Service) loginUsername(ctx context.Context, username, password string) (Result, error) {
	u, err := s.users.UserByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		return Result{}, ErrUserNotFound
	}
	if err != nil {
		return Result{}, err
	}
	if u.Banned() {
		return Result{}, ErrBanned
	}
	// An account without a password answers like a wrong password, so the two are indistinguishable.
	if len(u.Password) == 0 {
		return Result{}, ErrInvalidCredentials
	}
	if err := s.checkPassword(ctx, u.ID, u.Password, password); err != nil {
		return Result{}, err
	}
	return Result{User: u}, nil
}

func (s *Service) findOrCreate(ctx context.Context, kind storage.IdentityKind, identity, username string, create bool) (Result, error) {
	if username != "" {
		if err := ValidateUsername(username); err != nil {
			return Result{}, err
		}
	}
	u, err := s.users.UserByIdentity(ctx, kind, identity)
	switch {
	case err == nil:
		if u.Banned() {
			return Result{}, ErrBanned
		}
		return Result{User: u}, nil
	case !errors.Is(err, storage.ErrNotFound):
		return Result{}, err
	case !create:
		return Result{}, ErrUserNotFound
	}
	return s.create(ctx, kind, identity, username, nil, "")
}

// create inserts a new account. A generated username that happens to be taken is drawn again; a
// requested one is the caller's clash. Losing a race for the identity returns the winner's account, which
// is what the loser would have got a moment later (Nakama answers a 500 there).
func (s *Service) create(ctx context.Context, kind storage.IdentityKind, identity, username string, hash []byte, password string) (Result, error) {
	generated := username == ""
	for attempt := 0; ; attempt++ {
		if generated {
			username = s.randomUsername()
		}
		id, err := s.newID()
		if err != nil {
			return Result{}, err
		}
		u, err := s.users.CreateUser(ctx, storage.NewUser{
			ID: id, Username: username, Kind: kind, Identity: identity, Password: hash, Time: s.clock(),
		})
		switch {
		case err == nil:
			return Result{User: u, Created: true}, nil
		case errors.Is(err, storage.ErrUsernameTaken) && generated && attempt < 5:
			continue
		case errors.Is(err, storage.ErrUsernameTaken):
			return Result{}, ErrUsernameTaken
		case errors.Is(err, storage.ErrIdentityTaken):
			u, err := s.users.UserByIdentity(ctx, kind, identity)
			if err != nil {
				return Result{}, err
			}
			if u.Banned() {
				return Result{}, ErrBanned
			}
			if kind == storage.IdentityEmail {
				// The winner set the password; this request's password must match it like any login, but
				// not count towards the lockout: it was no guess, the account did not exist when it began.
				if err := s.checkPassword(ctx, "", u.Password, password); err != nil {
					return Result{}, err
				}
			}
			return Result{User: u}, nil
		default:
			return Result{}, err
		}
	}
}

// Account returns the account with the given id for display, from the read cache when it is enabled.
// The result has no password hash. Decisions (bans, credentials) must use AccountFresh.
func (s *Service) Account(ctx context.Context, userID string) (*storage.User, error) {
	if e := s.cache.get(userID); e != nil {
		return copyUser(e.user), nil
	}
	gen := s.cache.generation()
	u, err := s.AccountFresh(ctx, userID)
	if err != nil {
		return nil, err
	}
	s.cache.put(u, gen)
	u.Password = nil
	return u, nil
}

// A View is a rendering of an account for display, such as its wire encoding, that the read cache keeps
// next to each entry: AccountView renders an account once per cache entry, and every read while the entry
// lives shares the bytes, so that the hot read costs neither a copy of the account nor its encoding.
type View struct {
	render func(*storage.User) ([]byte, error)
}

// NewView returns the View that render computes. render gets a copy of the account, without its password
// hash, and must depend on nothing else: its result is reused for as long as the account is cached.
func NewView(render func(*storage.User) ([]byte, error)) *View {
	return &View{render: render}
}

// AccountView returns the account with the given id as v renders it, from the read cache when it is
// enabled, as Account would read it: the same entries, the same invalidation. The bytes are shared by
// every caller and must not be changed.
func (s *Service) AccountView(ctx context.Context, userID string, v *View) ([]byte, error) {
	if e := s.cache.get(userID); e != nil {
		return e.render(v)
	}
	gen := s.cache.generation()
	u, err := s.AccountFresh(ctx, userID)
	if err != nil {
		return nil, err
	}
	if e := s.cache.put(u, gen); e != nil {
		return e.render(v)
	}
	u.Password = nil
	return v.render(u)
}

// AccountFresh reads the account from the store, bypassing the cache.
func (s *Service) AccountFresh(ctx context.Context, userID string) (*storage.User, error) {
	u, err := s.users.UserByID(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrAccountNotFound
	}
	return u, err
}

// AccountByUsername reads the account with exactly this username from the store, for administrators;
// ErrAccountNotFound when there is none. The result has no password hash.
func (s *Service) AccountByUsername(ctx context.Context, username string) (*storage.User, error) {
	return withoutPassword(s.users.UserByUsername(ctx, username))
}

// AccountByIdentity reads the account that holds identity (a device id, an email in any case, a custom id
// or a platform id) from the store, for administrators; ErrAccountNotFound when none does. The result has
// no password hash.
func (s *Service) AccountByIdentity(ctx context.Context, kind storage.IdentityKind, identity string) (*storage.User, error) {
	if kind == storage.IdentityEmail {
		identity = strings.ToLower(identity) // as stored
	}
	return withoutPassword(s.users.UserByIdentity(ctx, kind, identity))
}

func withoutPassword(u *storage.User, err error) (*storage.User, error) {
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrAccountNotFound
	}
	if err != nil {
		return nil, err
	}
	u.Password = nil
	return u, nil
}

// Invalidate drops a cached account; call it after changing the account other than through this service.
func (s *Service) Invalidate(userID string) { s.cache.invalidate(userID) }

// Profile is a requested profile change; nil fields are unchanged and "" clears a field (a username can
// not be cleared).
type Profile struct {
	Username    *string
	DisplayName *string
	AvatarURL   *string
	LangTag     *string
	Location    *string
	Timezone    *string
	Metadata    *string // JSON object text
}

// Column limits from Nakama's schema; Nakama answers a 500 when they are exceeded, Latchkey a 400.
var profileLimits = []struct {
	name string
	max  int
	get  func(*Profile) *string
}{
	{"display_name", 255, func(p *Profile) *string { return p.DisplayName }},
	{"avatar_url", 512, func(p *Profile) *string { return p.AvatarURL }},
	{"lang_tag", 18, func(p *Profile) *string { return p.LangTag }},
	{"location", 255, func(p *Profile) *string { return p.Location }},
	{"timezone", 255, func(p *Profile) *string { return p.Timezone }},
	{"metadata", 16384, func(p *Profile) *string { return p.Metadata }},
}

// UpdateAccount applies a profile change.
func (s *Service) UpdateAccount(ctx context.Context, userID string, p Profile) error {
	if p.Username != nil {
		if err := ValidateUsername(*p.Username); err != nil {
			return err
		}
	}
	for _, l := range profileLimits {
		if v := l.get(&p); v != nil && len(*v) > l.max {
			return &FieldTooLongError{Field: l.name, Max: l.max}
		}
	}
	if p.Metadata != nil {
		var obj map[string]any
		if err := json.Unmarshal([]byte(*p.Metadata), &obj); err != nil || obj == nil {
			return ErrMetadataNotJSONObject
		}
	}
	upd := storage.ProfileUpdate{
		Username: p.Username, DisplayName: p.DisplayName, AvatarURL: p.AvatarURL, LangTag: p.LangTag,
		Location: p.Location, Timezone: p.Timezone, Metadata: p.Metadata, Time: s.clock(),
	}
	if upd.Empty() {
		return ErrNoFieldsToUpdate
	}
	err := s.users.UpdateProfile(ctx, userID, upd)
	// Invalidate even on error: a failure after the write (a lost connection) must not leave a stale entry.
	s.cache.invalidate(userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return ErrAccountNotFound
	case errors.Is(err, storage.ErrUsernameTaken):
		return ErrUsernameTaken
	}
	return err
}

// hashPassword hashes under the semaphore.
func (s *Service) hashPassword(ctx context.Context, password string) ([]byte, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	defer s.timeHash(time.Now())
	return bcrypt.GenerateFromPassword([]byte(password), s.cost)
}

// checkPassword compares under the semaphore. Passwords were validated to at most 72 bytes, the part of
// a password bcrypt ever looked at, so hashes made by Nakama (any cost) compare as they did there.
//
// It is a login to the account userID, so the lockout applies: a locked account is refused before
// bcrypt runs, and so is an attempt that was waiting for a slot when the lockout started, so that a
// guessing burst costs no more bcrypt work than the failures that started the lockout. An empty userID
// is a check outside the lockout.
func (s *Service) checkPassword(ctx context.Context, userID string, hash []byte, password string) error {
	if err := s.lockedOut(userID); err != nil {
		return err
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	if err := s.lockedOut(userID); err != nil {
		release()
		return err
	}
	start := time.Now()
	err = bcrypt.CompareHashAndPassword(hash, []byte(password))
	s.timeHash(start)
	// The outcome is counted before the slot is released, so the next waiter sees a lockout it started.
	var locked time.Duration
	switch {
	case userID == "":
	case err != nil:
		locked = s.lockout.Fail(userID)
	default:
		s.lockout.Succeed(userID)
	}
	release()
	if locked > 0 {
		s.recordLockout(ctx, userID, locked)
	}
	if err != nil {
		return ErrInvalidCredentials
	}
	return nil
}

// lockedOut returns a *limits.RetryError wrapping ErrLoginLocked while the account is locked out.
func (s *Service) lockedOut(userID string) error {
	if userID == "" {
		return nil
	}
	if d := s.lockout.Locked(userID); d > 0 {
		if s.obs != nil {
			s.obs.Refused("login_lockout")
		}
		return &limits.RetryError{Err: ErrLoginLocked, After: d}
	}
	return nil
}

func (s *Service) recordLockout(ctx context.Context, userID string, d time.Duration) {
	if s.events == nil {
		return
	}
	ev := storage.Event{
		Time: s.clock().UTC(), Kind: storage.EventLoginLocked, UserID: userID, ClientIP: clientIP(ctx),
		Reason: "wrong passwords; logins refused for " + d.String(),
	}
	if err := s.events.AppendEvents(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Warn("recording security event failed", "kind", ev.Kind, "user_id", userID, "err", err)
	}
}

// acquire takes a bcrypt slot for the request's client address. When every slot is busy it waits in a
// bounded queue, for a bounded time, well within the request's deadline: a burst of logins is answered
// at once with a retryable ErrHashBusy rather than holding connections until they time out, which would
// also drop the genuine logins queued among them. The queue is fair between client addresses, so one
// client's burst cannot crowd out everyone else's logins.
func (s *Service) acquire(ctx context.Context) (release func(), err error) {
	start := time.Now()
	release, err = s.hashes.Acquire(ctx, limits.Key(clientIP(ctx)))
	if s.obs != nil {
		s.obs.HashWait(time.Since(start))
		if errors.Is(err, limits.ErrBusy) {
			s.obs.Refused("hash_queue")
		}
	}
	if errors.Is(err, limits.ErrBusy) {
		// Retry when the queue ahead should have drained, at the latest bcrypt operation's speed: at
		// least a second, at most 30.
		per := time.Duration(s.hashNanos.Load())
		d := per * time.Duration(s.hashes.Queued()+1) / time.Duration(s.hashes.Slots())
		return nil, &limits.RetryError{Err: ErrHashBusy, After: min(max(d, time.Second), 30*time.Second)}
	}
	return release, err
}

func (s *Service) timeHash(start time.Time) {
	s.hashNanos.Store(int64(time.Since(start)))
	s.hashRuns.Add(1)
}

// HashesInFlight reports how many bcrypt operations are running; tests use it to check the bound.
func (s *Service) HashesInFlight() int { return s.hashes.Running() }

// HashesRun reports how many bcrypt operations have run; tests use it to show what did not run one.
func (s *Service) HashesRun() uint64 { return s.hashRuns.Load() }

type clientIPKey struct{}

// WithClientIP returns ctx carrying the client's address: bcrypt slots are shared fairly between client
// addresses, and the security events this service records name it.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

const usernameLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomUsername draws ten letters, Nakama's generated-username shape.
func (s *Service) randomUsername() string {
	var b [10]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		panic(fmt.Sprintf("accounts: randomness failed: %v", err))
	}
	for i := range b {
		// 256 is not a multiple of 52; the bias this leaves (at most 1/52 on some letters) is harmless for
		// a display default that is checked for uniqueness anyway.
		b[i] = usernameLetters[int(b[i])%len(usernameLetters)]
	}
	return string(b[:])
}

// newID returns a new account id: a version 7 UUID (a millisecond timestamp, then 74 random bits) in
// canonical form. Time-ordered ids put each new account at the end of every index keyed by account id
// (the accounts' own, and the account id indexes of sessions, devices and events), so creating accounts
// dirties a few shared pages instead of one random page per index. Any UUID is a valid Nakama user id; the
// price is that an id tells when its account was created.
func (s *Service) newID() (string, error) {
	id, err := uuid.NewV7FromReader(s.rand)
	if err != nil {
		return "", fmt.Errorf("accounts: reading randomness: %w", err)
	}
	return id.String(), nil
}
