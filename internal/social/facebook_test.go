package social_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

func TestFacebookGraph(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, p, nil)
	ctx := context.Background()
	token := p.FacebookAccessToken("10158", "Ann Example")
	id, err := e.v.Facebook(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	want := social.Identity{ID: "10158", Name: "Ann Example", Email: "10158@facebook.example",
		AvatarURL: "https://platform-lookaside.fbsbx.example/10158"}
	if id != want {
		t.Errorf("got %+v, want %+v", id, want)
	}
	for _, bad := range []string{"EAATnotissued", "", "has space&access_token=x"} {
		_, err := e.v.Facebook(ctx, bad)
		checkErr(t, err, social.ErrInvalid, bad)
	}
}

// TestFacebookJWTWithoutAppID checks that without social.facebook_limited_login.app_id even a JWT goes to
// the Graph API, which refuses it.
func TestFacebookJWTWithoutAppID(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, p, func(c *social.Config) { c.FacebookLimitedLogin.AppID = "" })
	token := p.FacebookLimitedToken("1", socialtest.FacebookAppID, time.Now().Add(time.Hour))
	_, err := e.v.Facebook(context.Background(), token)
	checkErr(t, err, social.ErrInvalid, token)
	if p.Hits(socialtest.Facebook) != 1 || p.Hits(socialtest.FacebookLimited) != 0 {
		t.Errorf("Graph hits %d, Limited Login key set hits %d; want 1 and 0",
			p.Hits(socialtest.Facebook), p.Hits(socialtest.FacebookLimited))
	}
}
