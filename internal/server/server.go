// Package server is Latchkey's composition root: it opens the store, builds the domain services and the
// HTTP API from one Config, and runs them with graceful shutdown. It holds no business logic.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/limits"
	"github.com/latchkeyhq/latchkey/internal/metrics"
	"github.com/latchkeyhq/latchkey/internal/realtime"
	"github.com/latchkeyhq/latchkey/internal/runtimehost"
	"github.com/latchkeyhq/latchkey/internal/runtimehost/js"
	"github.com/latchkeyhq/latchkey/internal/runtimehost/lua"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
	"github.com/latchkeyhq/latchkey/internal/tickets"
	"github.com/latchkeyhq/latchkey/runtime"
)

// Backend is a store that can also manage its schema.
type Backend = storage.Backend

// OpenBackend opens the store the config selects: the embedded SQLite database in data_dir when
// database.address is empty, PostgreSQL otherwise. The description it returns names the store for logs and
// never contains a password. The SQLite database is guarded by its marker file (see sqlite.OpenGuarded and
// database.create_fresh), so that a lost database stops the start instead of starting an empty store.
func OpenBackend(ctx context.Context, cfg config.Config) (Backend, string, error) {
	addr := cfg.DatabaseAddress()
	if addr == "" {
		path := filepath.Join(cfg.DataDir, "latchkey.db")
		st, err := sqlite.OpenGuarded(ctx, path, cfg.Database.CreateFresh)
		if err != nil {
			return nil, "", fmt.Errorf("opening SQLite database %s: %w", path, err)
		}
		return st, "sqlite:" + path, nil
	}
	st, err := postgres.Open(ctx, addr)
	if err != nil {
		return nil, "", fmt.Errorf("opening PostgreSQL database: %w", err)
	}
	return st, "postgres:" + st.Describe(), nil
}

// accountCacheTTL bounds how long GET /v2/account can miss a change made by another process on the same
// embedded store; writes through this node invalidate at once. With a shared database (several nodes
// behind a load balancer) there is no cache: a client that updates its account on one node and reads it
// on another must see its write.
const accountCacheTTL = 5 * time.Second

// feedPollInterval is how often a node reads the revocation feed when nothing wakes it earlier. It bounds
// how long another process's revocation takes to reach this node on SQLite (an admin command on the same
// file), and is the fallback on PostgreSQL when a notification is lost.
const feedPollInterval = 500 * time.Millisecond

// Options are what the server needs besides its config.
type Options struct {
	Logger *slog.Logger
	Clock  func() time.Time
	Hooks  httpapi.Hooks
	// Modules are the studio's server code, loaded before the API is built.
	Modules []runtime.InitModule
	// Version is the server version, for the build_info metric.
	Version string
	// Existing opens only a store that is already there (see OpenExistingBackend): admin commands set it.
	Existing bool
}

// Server is a running Latchkey node's parts.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	store    Backend
	cert     certificate // the client port's TLS pair (see tls.go)
	where    string
	Accounts *accounts.Service
	Sessions *sessions.Manager
	Runtime  *runtimehost.Host
	Realtime *realtime.Hub
	Tickets  *tickets.Service
	API      *httpapi.API
	metrics  *metrics.Metrics // nil: metrics off
}

// New opens and migrates the store and wires the services. The caller must Close it.
func New(ctx context.Context, cfg config.Config, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	photon, err := PhotonProvider(cfg.Photon)
	if err != nil {
		return nil, err
	}
	open := OpenBackend
	if opts.Existing {
		open = OpenExistingBackend
	}
	st, where, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	applied, err := st.MigrateUp(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("migrating %s: %w", where, err)
	}
	for _, m := range applied {
		log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	skeys, rkeys, err := Keyrings(cfg.Session)
	if err != nil {
		st.Close()
		return nil, err
	}
	mx := newMetrics(cfg, opts.Version)
	st = observeStore(st, mx)
	s := &Server{cfg: cfg, log: log, store: st, where: where}
	cacheTTL := accountCacheTTL
	if cfg.DatabaseAddress() != "" {
		cacheTTL = 0
	}
	apiLimits, lockout, err := AbuseLimits(cfg, clock)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.Accounts = accounts.New(accounts.Deps{
		Users: st, Clock: clock, BcryptCost: cfg.Auth.BcryptCost, MaxConcurrentHashes: cfg.Auth.MaxConcurrentHashes,
		CacheTTL: cacheTTL, MaxHashQueue: cfg.Auth.MaxHashQueue,
		MaxHashWait: time.Duration(cfg.Auth.MaxHashWaitMs) * time.Millisecond,
		Lockout:     lockout, Events: st, Logger: log, Observer: observer[accounts.Observer](mx),
	})
	s.Sessions = sessions.New(sessions.Config{
		TokenExpiry:    time.Duration(cfg.Session.TokenExpirySec) * time.Second,
		RefreshExpiry:  time.Duration(cfg.Session.RefreshTokenExpirySec) * time.Second,
		SingleSession:  cfg.Session.SingleSession,
		Rotation:       cfg.Session.RefreshRotation,
		ReuseGrace:     time.Duration(cfg.Session.RefreshReuseGraceSec) * time.Second,
		MaxSessions:    cfg.Session.MaxSessionsPerUser,
		AdoptNakama:    cfg.Session.AdoptNakamaRefreshTokens,
		EventRetention: time.Duration(cfg.Session.EventRetentionDays) * 24 * time.Hour,
		EventsPerHour:  cfg.Session.EventsPerHour,
	}, sessions.Deps{Store: st, Users: st, Events: st, SessionKeys: skeys, RefreshKeys: rkeys, Clock: clock, Logger: log,
		Accounts: refreshAccounts(s.Accounts, cacheTTL), Observer: observer[sessions.Observer](mx)})
	s.Sessions.OnAccountChange(s.Accounts.Invalidate)
	if err := s.Sessions.Load(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("loading revocations: %w", err)
	}
	s.Tickets = newTickets(cfg.Tickets, st, s.Sessions, clock, log)
	// Admin commands mint nothing: they leave the keys to a serving node, which makes the first.
	if !opts.Existing {
		if err := s.Tickets.Load(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("loading ticket keys: %w", err)
		}
	}
	photon.Tickets = s.Tickets
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	platforms, err := social.New(SocialConfig(cfg.Social), clock, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.Realtime = realtime.New(realtime.Config{
		MaxMessageSize: cfg.Socket.MaxMessageSizeBytes, ReadBufferSize: cfg.Socket.ReadBufferSizeBytes,
		WriteBufferSize: cfg.Socket.WriteBufferSizeBytes, PingPeriod: ms(cfg.Socket.PingPeriodMs),
		PongWait: ms(cfg.Socket.PongWaitMs), WriteWait: ms(cfg.Socket.WriteWaitMs), QueueSize: cfg.Socket.OutgoingQueueSize,
		SingleSocket: cfg.Session.SingleSocket, CloseOnRevoke: cfg.Socket.CloseOnRevoke, NodeName: cfg.Name,
		MaxSocketsPerUser: cfg.Socket.MaxSocketsPerUser, MaxSockets: cfg.Socket.MaxSockets,
	}, realtime.Deps{Sessions: s.Sessions, Users: st, Registry: st, Clock: clock, Logger: log})
	s.Runtime = runtimehost.New(runtimehost.Deps{
		Accounts: s.Accounts, Sessions: s.Sessions, Realtime: s.Realtime, DB: st.DB(), Logger: log, Env: cfg.Env(),
		Node: cfg.Name, Timeout: ms(cfg.Runtime.CallTimeoutMs), Platforms: platforms, Tickets: s.Tickets,
	})
	if err := s.Runtime.LoadNamed(ctx, modules(cfg, opts.Modules)...); err != nil {
		st.Close()
		return nil, err
	}
	s.Realtime.SetRuntime(s.Runtime)
	hooks := opts.Hooks
	if hooks == nil && !s.Runtime.Empty() {
		hooks = s.Runtime
	}
	s.API = httpapi.New(httpapi.Deps{
		Accounts: s.Accounts, Sessions: s.Sessions, ServerKey: cfg.Socket.ServerKey,
		MaxBodyBytes: cfg.Socket.MaxRequestSizeBytes, Logger: log, Hooks: hooks,
		RPCs: s.Runtime, HTTPKey: cfg.Runtime.HTTPKey, Realtime: s.Realtime, Platforms: platforms,
		Ready: st.CheckWrite, Clock: clock, Limits: apiLimits,
		Observer: observer[httpapi.Observer](mx), RequestLevel: cfg.Logger.RequestLevel, Photon: photon,
		Tickets: s.Tickets, VerifierKeys: cfg.Tickets.VerifierKeys,
	})
	s.instrument(mx)
	log.Info("store ready", "store", where, "store_id", s.Sessions.StoreID(), "revoked_sessions", s.Sessions.Denylist().Len())
	if cfg.Database.CreateFresh && cfg.DatabaseAddress() == "" {
		log.Warn("database.create_fresh is set: this start accepted whatever database data_dir holds, a new empty one " +
			"if it was missing; remove the setting, so that a lost database stops the next start again")
	}
	return s, nil
}

// requestDeadline is a request's deadline for a connection write timeout: a fifth of it, between 0.5 s
// and 2 s, is kept for writing the answer. No write timeout (0) means no deadline, as configured.
func requestDeadline(writeTimeout time.Duration) time.Duration {
	if writeTimeout <= 0 {
		return 0
	}
	margin := min(max(writeTimeout/5, 500*time.Millisecond), 2*time.Second)
	return max(writeTimeout-margin, writeTimeout/2)
}

// refuseAmbiguous answers a request whose framing is ambiguous (see framing.go) with 400, code 3, and
// closes the connection: the bytes after it cannot be trusted to be the next request.
func refuseAmbiguous(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(api.Error{Code: api.CodeInvalidArgument, Message: "Request has both Transfer-Encoding and Content-Length."})
}

// modules lists the server code to load, in Nakama's order: the Go modules compiled in, then the
// JavaScript entrypoint, then the Lua modules in runtime.path.
func modules(cfg config.Config, goMods []runtime.InitModule) []runtimehost.Named {
	var out []runtimehost.Named
	for i, m := range goMods {
		out = append(out, runtimehost.Named{Name: fmt.Sprintf("Go module %d", i+1), Init: m})
	}
	path := cfg.RuntimePath()
	if e := cfg.Runtime.JSEntrypoint; e != "" {
		out = append(out, runtimehost.Named{Name: "JavaScript module " + filepath.Join(path, e), Init: js.Module(js.Config{
			Path: path, Entrypoint: e, MinCount: cfg.Runtime.JSMinCount, MaxCount: cfg.Runtime.JSMaxCount,
		})})
	}
	out = append(out, runtimehost.Named{Name: "Lua modules in " + path, Init: lua.Module(lua.Config{
		Path: path, MinCount: cfg.Runtime.LuaMinCount, MaxCount: cfg.Runtime.LuaMaxCount,
	})})
	return out
}

// AbuseLimits turns the limits.* settings into the API's per-client-address limits and the accounts
// service's failed-password lockout, timed by clock.
func AbuseLimits(cfg config.Config, clock func() time.Time) (httpapi.Limits, limits.LockoutConfig, error) {
	l := cfg.Limits
	proxies, err := limits.ParseProxies(l.TrustedProxies)
	if err != nil {
		return httpapi.Limits{}, limits.LockoutConfig{}, fmt.Errorf("limits.trusted_proxies: %w", err)
	}
	sec := func(v int) time.Duration { return time.Duration(v) * time.Second }
	return httpapi.Limits{
			Auth:           limits.Config{Rate: float64(l.AuthRatePerSec), Burst: l.AuthBurst, MaxKeys: l.MaxTrackedIPs, Clock: clock},
			Refresh:        limits.Config{Rate: float64(l.RefreshRatePerSec), Burst: l.RefreshBurst, MaxKeys: l.MaxTrackedIPs, Clock: clock},
			Socket:         limits.Config{Rate: float64(l.SocketRatePerSec), Burst: l.SocketBurst, MaxKeys: l.MaxTrackedIPs, Clock: clock},
			TrustedProxies: proxies,
		}, limits.LockoutConfig{
			Failures: l.LockoutFailures, Window: sec(l.LockoutWindowSec), Min: sec(l.LockoutMinSec),
			Max: sec(l.LockoutMaxSec), MaxKeys: l.MaxTrackedAccounts, Clock: clock,
		}, nil
}

// SocialConfig turns the social.* settings into the verifier's config.
func SocialConfig(c config.SocialConfig) social.Config {
	var sc social.Config
	sc.Apple.BundleID, sc.Apple.KeysURL = c.Apple.BundleID, c.Apple.KeysURL
	sc.Google.ClientIDs, sc.Google.KeysURL = c.Google.ClientIDs, c.Google.KeysURL
	sc.Facebook.GraphURL = c.Facebook.GraphURL
	sc.FacebookLimitedLogin.AppID, sc.FacebookLimitedLogin.KeysURL = c.FacebookLimitedLogin.AppID, c.FacebookLimitedLogin.KeysURL
	sc.FacebookInstantGame.AppSecret = c.FacebookInstantGame.AppSecret
	sc.Steam.PublisherKey, sc.Steam.AppID, sc.Steam.APIURL = c.Steam.PublisherKey, c.Steam.AppID, c.Steam.APIURL
	sc.GameCenter.KeyHostSuffixes = c.GameCenter.KeyHostSuffixes
	sc.CAFile = c.CAFile
	sc.Timeout = time.Duration(c.TimeoutMs) * time.Millisecond
	return sc
}

// refreshAccounts is where a refresh reads the account first: the per-node account cache where there is
// one (SQLite), else nil, the store. A refresh that succeeds needs the username and the ban state only
// as fresh as the cache keeps them, since the session itself is read from the store (see sessions.Deps).
func refreshAccounts(a *accounts.Service, cacheTTL time.Duration) sessions.AccountReader {
	if cacheTTL <= 0 {
		return nil
	}
	return cachedAccounts{a}
}

type cachedAccounts struct{ a *accounts.Service }

func (c cachedAccounts) UserByID(ctx context.Context, id string) (*storage.User, error) {
	u, err := c.a.Account(ctx, id)
	if errors.Is(err, accounts.ErrAccountNotFound) {
		return nil, storage.ErrNotFound
	}
	return u, err
}

// Store returns the backend.
func (s *Server) Store() Backend { return s.store }

// StoreName names the store for people, as OpenBackend describes it; it never contains a password.
func (s *Server) StoreName() string { return s.where }

// Close stops the runtime's background work and releases the store.
func (s *Server) Close() error {
	s.Runtime.Close()
	return s.store.Close()
}

// Serve answers HTTP on ln until ctx ends, then drains: the listener closes (new connections are refused),
// sockets get a close frame, and in-flight requests get shutdown_grace_sec to finish; those still running
// then have their connections cut. A drain cut short is logged, not returned: the server did stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	// Every request gets a deadline, so that a database that stops answering turns into a timely error
	// rather than a request parked until the client gives up. It ends before the connection's write timeout,
	// which would otherwise cut the connection before the 503 or 504 answer is written.
	deadline := requestDeadline(ms(s.cfg.Socket.WriteTimeoutMs))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ambiguous(r) {
			refuseAmbiguous(w)
			return
		}
		if deadline > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), deadline)
			defer cancel()
			r = r.WithContext(ctx)
		}
		s.API.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       ms(s.cfg.Socket.ReadTimeoutMs),
		WriteTimeout:      ms(s.cfg.Socket.WriteTimeoutMs),
		IdleTimeout:       ms(s.cfg.Socket.IdleTimeoutMs),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       connContext,
	}
	srv.RegisterOnShutdown(s.API.Drain) // revocation-feed long-polls answer at once rather than hold the drain
	l, lnErr := s.listener(ln, srv)
	if lnErr != nil {
		return lnErr
	}
	defer l.Close() // when Serve returns early; srv.Serve closes it too
	pp, ppErr := startPprof(s.cfg.Debug.PprofAddress, s.log)
	if ppErr != nil {
		return ppErr
	}
	defer pp.Close()
	adm, admErr := s.startAdmin()
	if admErr != nil {
		return admErr
	}
	defer adm.Close()
	ops, opsErr := s.startOps(ctx)
	if opsErr != nil {
		return opsErr
	}
	defer ops.Close()
	// Only a serving node registers in the socket registry; admin commands build a Server too.
	if err := s.Realtime.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return fmt.Errorf("registering this node for the realtime socket: %w", err)
	}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	// The feed follower outlives ctx until the requests have drained, so that revocations keep arriving
	// meanwhile and the security-event summaries it writes when it stops count every request; Serve
	// returns only after it has stopped, since the caller closes the store next.
	follow, stopFollow := context.WithCancel(context.WithoutCancel(ctx))
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		s.Sessions.Follow(follow, feedPollInterval)
	}()
	defer func() {
		stopFollow()
		<-followed
	}()
	go s.Realtime.Run(bg)
	ticketsStopped := s.runTickets(bg)
	defer func() { stopBG(); ticketsStopped() }() // the loop stops before the caller closes the store

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", s.usesTLS())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	grace := time.Duration(s.cfg.ShutdownGraceSec) * time.Second
	s.log.Info("shutting down", "grace_sec", s.cfg.ShutdownGraceSec)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// Sockets are hijacked connections, which http.Server.Shutdown does not track: each gets a going-away
	// close frame here, while HTTP requests drain.
	sockets := make(chan struct{})
	go func() {
		s.Realtime.Shutdown(shutdownCtx)
		close(sockets)
	}()
	err := srv.Shutdown(shutdownCtx)
	<-sockets
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("requests still running at the end of shutdown_grace_sec; cutting their connections", "grace_sec", s.cfg.ShutdownGraceSec)
		err = srv.Close()
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
