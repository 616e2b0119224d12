package httpapi

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
)

// StatusWriter is an http.ResponseWriter that remembers the first status written, for the request log,
// the metrics and panic recovery. The client API and the admin API wrap each request's writer in one.
type StatusWriter struct {
	http.ResponseWriter
	Status int
	Wrote  bool // whether an answer has started: after that, an error can no longer be written
}

func (w *StatusWriter) WriteHeader(code int) {
	if !w.Wrote {
		w.Status, w.Wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if !w.Wrote {
		w.Status, w.Wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to the websocket, which writes its own 101 answer.
func (w *StatusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.Wrote {
		w.Status, w.Wrote = http.StatusSwitchingProtocols, true
	}
	return c, rw, err
}

// Recovered handles the value p a handler's panic left to recover(): it logs msg with the request's method
// and path (never its query, headers or body) and the stack, and answers with answer unless an answer has
// started. http.ErrAbortHandler panics again, as net/http expects of it. Call it from the deferred function
// that called recover, when p is not nil.
func Recovered(p any, log *slog.Logger, msg string, w *StatusWriter, r *http.Request, answer func()) {
	if p == http.ErrAbortHandler {
		panic(p)
	}
	log.Error(msg, "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
	if !w.Wrote {
		answer()
	}
}
