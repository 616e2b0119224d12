package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/latchkeyhq/latchkey/verify"
	"github.com/latchkeyhq/latchkey/verify/verifytest"
)

// A game server verifies the ticket each player presents when joining. Here a fake node from package
// verifytest stands in for Latchkey and mints the ticket a player would get from
// POST /v2/session/ticket {"audience":"match-eu-1"}.
func Example() {
	node := verifytest.NewServer() // in production: nothing, the node runs elsewhere
	defer node.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := verify.New(verify.Config{
		BaseURL:     node.URL,               // e.g. "https://auth.example.com"
		VerifierKey: verifytest.VerifierKey, // one of the node's tickets.verifier_keys, from the environment
		Audience:    "match-eu-1",           // this server's audience
		Issuer:      "latchkey",             // the node's tickets.issuer
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := v.Start(ctx); err != nil { // fetches the keys, follows the revocation feed
		log.Fatal(err)
	}
	readyCtx, done := context.WithTimeout(ctx, 10*time.Second)
	defer done()
	if err := v.WaitReady(readyCtx); err != nil { // or answer "not ready" until v.Ready()
		log.Fatal(err)
	}

	// The player's ticket, as it arrives in the join request.
	ticket := node.Mint(verifytest.Ticket{Audience: "match-eu-1", Username: "ada", Vars: map[string]string{"tier": "gold"}})

	claims, err := v.Verify(ticket)
	if err != nil {
		fmt.Println("refused:", verify.Reason(err))
		return
	}
	fmt.Println("admitted", claims.Username, "tier", claims.Vars["tier"])

	// The same ticket again, say a copy sent by someone who intercepted it, is refused.
	_, err = v.Verify(ticket)
	fmt.Println("again:", errors.Is(err, verify.ErrReplayed), verify.Reason(err))

	// While the player plays, v.Ended(claims) turns true within a second of a logout or ban.
	fmt.Println("ended:", v.Ended(claims))
	// Output:
	// admitted ada tier gold
	// again: true replayed
	// ended: false
}
