package social_test

import (
	"context"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

func TestSteam(t *testing.T) {
	p := socialtest.Start(t)
	ctx := context.Background()
	ticket := p.SteamTicket("76561197960287930")
	tests := []struct {
		name   string
		edit   func(*social.Config)
		ticket string
		want   error
	}{
		{"valid", nil, ticket, nil},
		{"ticket not issued", nil, "14000000DEADBEEF", social.ErrInvalid},
		{"ticket for another app", func(c *social.Config) { c.Steam.AppID = socialtest.SteamAppID + 1 }, ticket, social.ErrInvalid},
		{"empty ticket", nil, "", social.ErrInvalid},
		{"API unreachable", func(c *social.Config) { c.Steam.APIURL = "https://127.0.0.1:1" }, ticket, social.ErrUnavailable},
		{"wrong publisher key", func(c *social.Config) { c.Steam.PublisherKey = "0123456789ABCDEF" }, ticket, social.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, p, tt.edit)
			id, err := e.v.Steam(ctx, tt.ticket)
			checkErr(t, err, tt.want, tt.ticket, p.SteamPublisherKey, "0123456789ABCDEF")
			if tt.want == nil && id != (social.Identity{ID: "76561197960287930"}) {
				t.Errorf("got %+v, want the SteamID", id)
			}
		})
	}
}
