package social

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// Steam verifies a session ticket from the Steamworks client (GetAuthSessionTicket, hex encoded) with the
// partner Web API's ISteamUserAuth/AuthenticateUserTicket, as Nakama does. The identity's ID is the 64-bit
// SteamID in decimal.
func (v *Verifier) Steam(ctx context.Context, ticket string) (Identity, error) {
	const provider = "steam"
	key, appID := v.cfg.Steam.PublisherKey, v.cfg.Steam.AppID
	switch {
	case key == "" && appID == 0:
		return Identity{}, notConfigured("Steam sign-in", "social.steam.publisher_key and social.steam.app_id")
	case key == "":
		return Identity{}, notConfigured("Steam sign-in", "social.steam.publisher_key")
	case appID == 0:
		return Identity{}, notConfigured("Steam sign-in", "social.steam.app_id")
	}
	if ticket == "" || len(ticket) > maxTokenLen {
		return Identity{}, invalid(provider, "ticket is empty or too long")
	}
	q := url.Values{"key": {key}, "appid": {strconv.Itoa(appID)}, "ticket": {ticket}}
	resp, err := v.get(ctx, provider, v.cfg.Steam.APIURL+"/ISteamUserAuth/AuthenticateUserTicket/v1/?"+q.Encode())
	if err != nil {
		return Identity{}, err
	}
	if resp.status != http.StatusOK {
		// Steam refuses a wrong publisher key with 403 and a request it cannot parse with 400: the server
		// cannot use the API, which says nothing about the ticket.
		return Identity{}, v.outage(provider, "AuthenticateUserTicket answered HTTP %d", resp.status)
	}
	var body struct {
		Response struct {
			Params *struct {
				Result  string `json:"result"`
				SteamID string `json:"steamid"`
			} `json:"params"`
			Error *struct {
				Code int    `json:"errorcode"`
				Desc string `json:"errordesc"`
			} `json:"error"`
		} `json:"response"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return Identity{}, v.outage(provider, "AuthenticateUserTicket answer is not JSON")
	}
	switch r := body.Response; {
	case r.Error != nil:
		return Identity{}, invalid(provider, "ticket refused (error %d: %s)", r.Error.Code, scrub(r.Error.Desc, ticket, key))
	case r.Params == nil:
		return Identity{}, v.outage(provider, "AuthenticateUserTicket answer has neither params nor error")
	case r.Params.Result != "OK":
		return Identity{}, invalid(provider, "ticket refused (result %s)", scrub(r.Params.Result, ticket, key))
	}
	id, err := strconv.ParseUint(body.Response.Params.SteamID, 10, 64)
	if err != nil || id == 0 {
		return Identity{}, v.outage(provider, "AuthenticateUserTicket answer has no valid steamid")
	}
	return Identity{ID: strconv.FormatUint(id, 10)}, nil
}
