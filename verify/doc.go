// Package verify checks Latchkey join tickets in a game server, offline: a Verifier fetches the node's
// published keys (GET /.well-known/jwks.json) and follows its revocation feed
// (GET /latchkey/v1/revocations, authenticated with a verifier key), then verifies each ticket a player
// presents with no request to the node: signature, audience, expiry, one-time use within the process, and
// whether the player's session has been logged out, banned or deleted since.
//
// A player asks Latchkey for a ticket for the game server's audience (POST /v2/session/ticket with its
// session token, or server code mints one) and hands it to the game server, which calls Verify. The
// session token never leaves the client, and the game server holds no secret that could mint tickets or
// sessions: only the verifier key, which reads the feed.
//
// The package imports only the standard library. Servers not written in Go can run the same verifier as a
// sidecar, `latchkey verifier`, which answers POST /verify on the loopback interface.
//
// A ticket is accepted once: a second Verify of it returns ErrReplayed. Several game-server processes
// behind one audience do not share that memory; a server that must refuse a ticket another process
// accepted should redeem it through the node's introspection endpoint instead.
//
// Package verifytest serves a fake Latchkey node, with a JWKS, a revocation feed and ticket minting, for
// tests of the game server's own code; the example below uses it.
package verify
