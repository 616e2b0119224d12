package realtime_test

import (
	"github.com/heroiclabs/nakama-common/api"
	"google.golang.org/protobuf/encoding/protojson"
)

// The encodings a client uses: nakama-js writes and reads these same JSON shapes.
var (
	protojsonOut = protojson.MarshalOptions{UseProtoNames: true}
	protojsonIn  = protojson.UnmarshalOptions{}
)

func rpcMsg(id, payload string) *api.Rpc { return &api.Rpc{Id: id, Payload: payload} }
