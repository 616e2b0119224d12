package realtime

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/heroiclabs/nakama-common/api"
	"github.com/heroiclabs/nakama-common/rtapi"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	latchkeyapi "github.com/latchkeyhq/latchkey/api"
)

// format is a socket's wire format, chosen at the handshake.
type format uint8

const (
	formatJSON     format = iota // text frames, protojson with Nakama's options
	formatProtobuf               // binary frames, protobuf
)

// Nakama's JSON options: proto field names (snake_case), enums as numbers, unset fields left out; unknown
// fields are an error, as in Nakama.
var (
	jsonOut = protojson.MarshalOptions{UseProtoNames: true, UseEnumNumbers: true}
	jsonIn  = protojson.UnmarshalOptions{DiscardUnknown: false}
)

func (f format) decode(data []byte, env *rtapi.Envelope) error {
	if f == formatProtobuf {
		return proto.Unmarshal(data, env)
	}
	return jsonIn.Unmarshal(data, env)
}

func (f format) encode(env *rtapi.Envelope) ([]byte, error) {
	if f == formatProtobuf {
		return proto.Marshal(env)
	}
	return jsonOut.Marshal(env)
}

// NotificationCodeSingleSocket is Nakama's code of the notification an older socket gets before
// single_socket closes it.
const NotificationCodeSingleSocket int32 = -7

// singleSocketNotice is the notification an older socket gets before single_socket closes it.
func singleSocketNotice(now time.Time) *rtapi.Envelope {
	return &rtapi.Envelope{Message: &rtapi.Envelope_Notifications{Notifications: &rtapi.Notifications{
		Notifications: []*api.Notification{{
			Id: uuid.NewString(), Subject: "single_socket", Content: "{}", Code: NotificationCodeSingleSocket,
			CreateTime: timestamppb.New(now),
		}},
	}}}
}

// Error messages of error envelopes.
const (
	msgUnrecognized    = "Unrecognized message."
	msgMissing         = "Missing message."
	msgWrongFrameJSON  = "Binary frames are not accepted on a socket opened with format=json."
	msgWrongFrameProto = "Text frames are not accepted on a socket opened with format=protobuf."
	msgRPCIDRequired   = "RPC ID must be set"
	msgRPCNotFound     = "RPC function not found"
	msgRefused         = "Requested resource was not found."
	msgInternal        = "Internal server error."
)

// handle answers one message from the client.
func (c *conn) handle(mt int, data []byte) {
	if (mt == websocket.BinaryMessage) != (c.format == formatProtobuf) {
		msg := msgWrongFrameJSON
		if c.format == formatProtobuf {
			msg = msgWrongFrameProto
		}
		c.sendError("", rtapi.Error_BAD_INPUT, msg)
		return
	}
	in := &rtapi.Envelope{}
	if err := c.format.decode(data, in); err != nil {
		c.sendError(salvageCid(c.format, data), rtapi.Error_UNRECOGNIZED_PAYLOAD, msgUnrecognized)
		return
	}
	switch in.Message.(type) {
	case nil:
		c.sendError(in.Cid, rtapi.Error_MISSING_PAYLOAD, msgMissing)
	case *rtapi.Envelope_Ping:
		c.dispatch("ping", in, func(in *rtapi.Envelope) *rtapi.Envelope {
			return &rtapi.Envelope{Cid: in.Cid, Message: &rtapi.Envelope_Pong{Pong: &rtapi.Pong{}}}
		})
	case *rtapi.Envelope_Pong:
		// A client's answer to nothing; Nakama ignores it too.
	case *rtapi.Envelope_Rpc:
		c.dispatch("rpc", in, c.rpc)
	default:
		c.sendError(in.Cid, rtapi.Error_UNRECOGNIZED_PAYLOAD, notServed(in))
	}
}

// salvageCid finds the cid of a JSON message that did not decode as an envelope (a message type newer than
// this server knows, a field of the wrong shape), so that the error answers the client's request instead
// of leaving it waiting for its timeout.
func salvageCid(f format, data []byte) string {
	if f != formatJSON {
		return ""
	}
	var m struct {
		Cid string `json:"cid"`
	}
	if json.Unmarshal(data, &m) != nil || len(m.Cid) > maxCidBytes {
		return ""
	}
	return m.Cid
}

// maxCidBytes bounds a salvaged cid; clients number their requests, so a longer one is not a cid.
const maxCidBytes = 64

// notServed names the message a client sent that Latchkey does not serve, so a developer sees at once why.
func notServed(in *rtapi.Envelope) string {
	name := "this message"
	if od := in.ProtoReflect().Descriptor().Oneofs().ByName("message"); od != nil {
		if fd := in.ProtoReflect().WhichOneof(od); fd != nil {
			name = string(fd.Name())
		}
	}
	return "Latchkey does not serve realtime " + name + ": it is an authentication and session server; " +
		"its socket answers ping and rpc only."
}

// dispatch runs a served message through the realtime hooks around fn, as Nakama does for its messages:
// the before-hook may change or refuse the message, the after-hook sees a successful answer. (Nakama runs
// no hooks around socket rpc; Latchkey does, so that socket RPCs can be guarded as HTTP ones are.)
func (c *conn) dispatch(name string, in *rtapi.Envelope, fn func(*rtapi.Envelope) *rtapi.Envelope) {
	rt := c.hub.rt
	if rt != nil {
		out, err := rt.BeforeRt(c.ctx, name, in)
		switch {
		case err != nil:
			c.sendError(in.Cid, rtapi.Error_RUNTIME_FUNCTION_EXCEPTION, clientMessage(err))
			return
		case out == nil:
			c.sendError(in.Cid, rtapi.Error_UNRECOGNIZED_PAYLOAD, msgRefused) // Nakama's answer
			return
		}
		out.Cid = in.Cid
		in = out
	}
	out := fn(in)
	c.sendEnvelope(out)
	// As in Nakama, unsuccessful operations do not trigger after-hooks.
	if rt != nil && out.GetError() == nil {
		rt.AfterRt(c.ctx, name, out, in)
	}
}

// rpc runs a registered RPC with the socket's caller.
func (c *conn) rpc(in *rtapi.Envelope) *rtapi.Envelope {
	m := in.GetRpc()
	if m.GetId() == "" {
		return errorEnvelope(in.Cid, rtapi.Error_BAD_INPUT, msgRPCIDRequired)
	}
	if c.hub.rt == nil {
		return errorEnvelope(in.Cid, rtapi.Error_RUNTIME_FUNCTION_NOT_FOUND, msgRPCNotFound)
	}
	result, found, err := c.hub.rt.Rpc(c.ctx, strings.ToLower(m.Id), m.Payload)
	switch {
	case !found:
		return errorEnvelope(in.Cid, rtapi.Error_RUNTIME_FUNCTION_NOT_FOUND, msgRPCNotFound)
	case err != nil:
		return errorEnvelope(in.Cid, rtapi.Error_RUNTIME_FUNCTION_EXCEPTION, clientMessage(err))
	}
	return &rtapi.Envelope{Cid: in.Cid, Message: &rtapi.Envelope_Rpc{Rpc: &api.Rpc{Id: m.Id, Payload: result}}}
}

// clientMessage is what the client may see of a server-code error: the message of an error made for the
// client (runtime.NewError arrives as *api.Error), a generic one otherwise.
func clientMessage(err error) string {
	var ae *latchkeyapi.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return msgInternal
}

func errorEnvelope(cid string, code rtapi.Error_Code, msg string) *rtapi.Envelope {
	return &rtapi.Envelope{Cid: cid, Message: &rtapi.Envelope_Error{Error: &rtapi.Error{Code: int32(code), Message: msg}}}
}

func (c *conn) sendError(cid string, code rtapi.Error_Code, msg string) {
	c.sendEnvelope(errorEnvelope(cid, code, msg))
}

// sendEnvelope encodes and queues an envelope.
func (c *conn) sendEnvelope(env *rtapi.Envelope) {
	if b := c.encode(env); b != nil {
		c.send(b)
	}
}

func (c *conn) encode(env *rtapi.Envelope) []byte {
	b, err := c.format.encode(env)
	if err != nil {
		// Only a server bug can make a message unencodable.
		c.hub.log.Error("encoding a socket message failed", "socket_id", c.id, "err", err)
		return nil
	}
	return b
}
