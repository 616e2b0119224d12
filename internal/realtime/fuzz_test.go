package realtime_test

import (
	"testing"

	"github.com/gorilla/websocket"
	"github.com/heroiclabs/nakama-common/rtapi"
	"google.golang.org/protobuf/proto"
)

// FuzzFrames sends arbitrary frames, as text on a JSON socket and as binary on a protobuf socket, to a
// real server without server code: whatever a frame holds, the socket must stay open and keep answering
// (a ping sent after each frame must get its pong), and the server must not crash. Frames over the
// message size limit are left out: they close the socket by design (see TestBadFrames).
func FuzzFrames(f *testing.F) {
	for _, seed := range []string{
		`{"cid":"1","ping":{}}`, `{"cid":"2","rpc":{"id":"x","payload":"y"}}`, `{"cid":"3"}`, `{}`, `null`,
		`{"cid":"4","match_create":{}}`, `{"cid":"5","pong":{}}`, `{"cid":"6","rpc":{}}`, `{"rpc":{"id":7}}`,
		`{"cid":"7","channel_join":{"target":"t","type":1}}`, `{"cid":"8","error":{"code":1}}`, "\xff\x00", "",
		`{"cid":"9","notifications":{"notifications":[{"id":"n"}]}}`, `{"cid":"10","status_update":{"status":"x"}}`,
	} {
		f.Add([]byte(seed))
	}
	pb, _ := proto.Marshal(&rtapi.Envelope{Cid: "11", Message: &rtapi.Envelope_Ping{Ping: &rtapi.Ping{}}})
	f.Add(pb)

	ts := startServerWith(f, nil)
	p := ts.login("fuzz-device-0001", nil)
	jsonSock := ts.dial(p.Token, "")
	pbSock := ts.dial(p.Token, "format=protobuf")
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > 4000 {
			t.Skip("over socket.max_message_size_bytes")
		}
		for _, c := range []*client{jsonSock, pbSock} {
			c.t = t
			mt := websocket.TextMessage
			if c.binary {
				mt = websocket.BinaryMessage
			}
			c.sendRaw(mt, frame)
			c.send(&rtapi.Envelope{Cid: "sentinel", Message: &rtapi.Envelope_Ping{Ping: &rtapi.Ping{}}})
			for {
				env := c.recv() // fails the test on a close or a silent server
				if env.Cid == "sentinel" && env.GetPong() != nil {
					break
				}
			}
		}
	})
}
