package server

import (
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
)

// PhotonProvider is the built-in Photon provider's settings, or the zero value (off) when photon.enabled
// is false. Its path must not be one the API already serves: config validation cannot know the route
// table, so the check is made here, before the server opens anything.
func PhotonProvider(c config.PhotonConfig) (httpapi.Photon, error) {
	if !c.Enabled {
		return httpapi.Photon{}, nil
	}
	if err := httpapi.CheckPhotonPath(c.Path); err != nil {
		return httpapi.Photon{}, err
	}
	return httpapi.Photon{
		Path: c.Path, TokenParam: c.TokenParam, Secret: c.Secret, SecretParam: c.SecretParam, Audience: c.Audience,
		AcceptSessionTokens: c.AcceptSessionTokens, AuthCookieVars: c.AuthCookieVars, DataVars: c.DataVars,
	}, nil
}
