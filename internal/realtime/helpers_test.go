package realtime_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heroiclabs/nakama-common/api"
	"google.golang.org/protobuf/encoding/protojson"
)

// The encodings a client uses: nakama-js writes and reads these same JSON shapes.
var (
	protojsonOut = protojson.MarshalOptions{UseProtoNames: true}
	protojsonIn  = protojson.UnmarshalOptions{}
)

func rpcMsg(id, payload string) *api.Rpc { return &api.Rpc{Id: id, Payload: payload} }

// claimTID reads a token's tid claim without verifying it.
func claimTID(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		TID string `json:"tid"`
	}
	json.Unmarshal(b, &c)
	return c.TID
}
