package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
)

func TestSessionFlood(t *testing.T) {
	url := startWith(t, func(cfg *config.Config) {
		cfg.Session.MaxSessionsPerUser = 10
	})
	var res floodResult
	code := runJSON(t, []string{"--url", url, "--scenario", "session-flood", "--requests", "50", "--concurrency", "4",
		"--max-sessions", "10", "--json"}, &res)
	if code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	if res.Logins != 50 || res.Succeeded != 50 || res.Refused != 0 || res.Dropped != 0 || res.Status["200"] != 50 {
		t.Errorf("got %+v, want 50 logins, all 200", res)
	}
	if res.LiveSessions < 1 || res.LiveSessions > 10 || res.SessionPages != 1 || res.FirstPageBytes <= 0 {
		t.Errorf("sessions: %d live over %d pages (%d bytes), want 1-10 on one page", res.LiveSessions, res.SessionPages, res.FirstPageBytes)
	}
	if res.LoginsPerSec <= 0 || res.P50Ms <= 0 || res.P99Ms > res.MaxMs {
		t.Errorf("figures out of order: %+v", res)
	}
}

func TestSessionFloodRateLimited(t *testing.T) {
	url := startWith(t, func(cfg *config.Config) {
		cfg.Session.MaxSessionsPerUser = 10
		cfg.Limits.AuthRatePerSec, cfg.Limits.AuthBurst = 1, 20
	})
	var res floodResult
	code := runJSON(t, []string{"--url", url, "--scenario", "session-flood", "--requests", "50", "--concurrency", "4",
		"--max-sessions", "10", "--json"}, &res)
	if code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	if res.Succeeded < 20 || res.Succeeded > 25 || res.Refused != 50-res.Succeeded || res.Status["429/8"] != res.Refused {
		t.Errorf("got %+v, want about 20 succeeded and the rest refused 429/8", res)
	}
	if res.LiveSessions > 10 {
		t.Errorf("%d live sessions, above the cap of 10", res.LiveSessions)
	}
}

func TestSessionFloodAboveCapFails(t *testing.T) {
	url := startWith(t, func(cfg *config.Config) {
		cfg.Session.MaxSessionsPerUser = 10
	})
	var res floodResult
	code := runJSON(t, []string{"--url", url, "--scenario", "session-flood", "--requests", "20", "--concurrency", "2",
		"--max-sessions", "5", "--json"}, &res)
	if code != 1 || res.LiveSessions != 10 {
		t.Fatalf("exit %d with %d live sessions; want 1 with 10 live above --max-sessions 5", code, res.LiveSessions)
	}
}

func TestLoginBurst(t *testing.T) {
	url := startWith(t, nil) // bcrypt cost 4, default limits
	var res burstResult
	code := runJSON(t, []string{"--url", url, "--scenario", "login-burst", "--burst", "20", "--json"}, &res)
	if code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	if res.Burst != 20 || res.AnsweredDeadline != 20 || res.Answered2s != 20 || res.Dropped != 0 {
		t.Errorf("got %+v, want all 20 burst logins answered within 2 s", res)
	}
	n := 0
	for k, v := range res.Status {
		if k != "401/16" && k != "429/8" && k != "503/14" {
			t.Errorf("burst status %s: %d, want only refusals", k, v)
		}
		n += v
	}
	if n != 20 {
		t.Errorf("status %v does not add up to 20", res.Status)
	}
	if res.LegitStatus != "200" || res.LegitSource != "127.0.0.3" || res.BurstSource != "127.0.0.2" || res.LegitSentAfterMs < 200 {
		t.Errorf("legitimate login: %+v", res)
	}
	if res.AnswerP50Ms <= 0 || res.AnswerP50Ms > res.AnswerP99Ms || res.AnswerP99Ms > res.AnswerMaxMs {
		t.Errorf("answer times out of order: %+v", res)
	}
}

func TestLoginBurstRefusesIPv6(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--url", "http://[::1]:7350", "--scenario", "login-burst"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "IPv4") {
		t.Fatalf("run = %d, stderr %q; want 2 and an IPv4 error", code, errOut.String())
	}
}

func TestLogoutAll(t *testing.T) {
	url := startWith(t, func(cfg *config.Config) {
		cfg.Limits.AuthRatePerSec, cfg.Limits.RefreshRatePerSec = 0, 0
	})
	var res logoutAllResult
	code := runJSON(t, []string{"--url", url, "--scenario", "logout-all", "--pool", "20", "--concurrency", "4",
		"--duration", "5s", "--json"}, &res)
	if code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	if res.Pool != 20 || res.LiveBefore != 20 || res.LogoutStatus != "200" || res.LiveAfter != 0 || res.OldTokensAccepted != 0 {
		t.Errorf("got %+v, want 20 live sessions before and none after a 200 logout", res)
	}
	if res.OtherLogins == 0 || res.OtherErrors != 0 || res.Before.Count == 0 || res.During.Count == 0 || res.LogoutMs <= 0 {
		t.Errorf("other logins: %+v", res)
	}
}

func TestLogoutAllCapped(t *testing.T) {
	url := startWith(t, func(cfg *config.Config) {
		cfg.Session.MaxSessionsPerUser = 10
		cfg.Limits.AuthRatePerSec, cfg.Limits.RefreshRatePerSec = 0, 0
	})
	var res logoutAllResult
	code := runJSON(t, []string{"--url", url, "--scenario", "logout-all", "--pool", "20", "--concurrency", "2", "--json"}, &res)
	if code != 0 || res.LiveBefore != 10 || res.LiveAfter != 0 || res.OldTokensAccepted != 0 {
		t.Fatalf("exit %d, result %+v; want 10 live before (the cap) and none after", code, res)
	}
}

// startWith starts a server on a temporary SQLite store with the test config changed by set (nil: as is)
// and returns its URL.
func startWith(t *testing.T, set func(*config.Config)) string {
	t.Helper()
	cfg := servertest.Config(t)
	if set != nil {
		set(&cfg)
	}
	_, url := servertest.Start(t, cfg, server.Options{})
	return url
}
