package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// holdHook is a before-hook that holds every call until released (or until the request's context ends),
// so that a test has a request in flight for as long as it needs one, without sleeping.
type holdHook struct {
	entered chan struct{}
	release chan struct{}
}

func (h holdHook) Before(ctx context.Context, _ string, req any) (any, error) {
	h.entered <- struct{}{}
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return req, nil
}

func (holdHook) After(context.Context, string, any, any) error { return nil }

// serving is a Server answering on a loopback listener, with a request held in its before-hook.
type serving struct {
	addr   string
	hook   holdHook
	stop   context.CancelFunc
	served chan struct{} // closed when Serve has returned, with its result in err
	err    error
	answer chan error // the held request's result: nil for a 200
}

func serveHeld(t *testing.T, graceSec int) *serving {
	t.Helper()
	cfg := storeConfig(t)
	cfg.ShutdownGraceSec = graceSec
	h := holdHook{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv, err := New(context.Background(), cfg, Options{Hooks: h})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &serving{addr: ln.Addr().String(), hook: h, stop: stop, served: make(chan struct{}), answer: make(chan error, 1)}
	go func() {
		defer close(s.served)
		s.err = srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		select {
		case <-s.served:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
		srv.Close()
	})
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v2/account/authenticate/device?create=true",
			strings.NewReader(`{"id":"shutdown-test-device-1"}`))
		req.SetBasicAuth("defaultkey", "")
		res, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = errors.New(res.Status)
			}
		}
		s.answer <- err
	}()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the before-hook")
	}
	return s
}

// TestShutdownDrainsWithinGrace: at shutdown new connections are refused while a request in flight,
// within shutdown_grace_sec, runs to its answer, and Serve returns once it has.
func TestShutdownDrainsWithinGrace(t *testing.T) {
	s := serveHeld(t, 30)
	s.stop()
	// The listener closes at once; the held request keeps Serve draining meanwhile.
	refused := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Fatal("new connections are still accepted after shutdown began")
	}
	select {
	case <-s.served:
		t.Fatalf("Serve returned (%v) with a request in flight within the grace", s.err)
	default:
	}
	close(s.hook.release)
	if err := <-s.answer; err != nil {
		t.Errorf("the request in flight at shutdown got %v, want 200", err)
	}
	select {
	case <-s.served:
		if s.err != nil {
			t.Errorf("Serve = %v", s.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the last request finished")
	}
}

// TestShutdownGraceCutsSlowRequests: a request still running when shutdown_grace_sec (here 0) is over
// has its connection cut, and Serve returns without waiting for it, and without an error: the server
// did stop.
func TestShutdownGraceCutsSlowRequests(t *testing.T) {
	s := serveHeld(t, 0)
	s.stop()
	select {
	case <-s.served:
		if s.err != nil {
			t.Errorf("Serve = %v, want nil", s.err)
		}
	case <-time.After(8 * time.Second): // the drain used to be a fixed 10 s
		t.Fatal("Serve waited for a request past shutdown_grace_sec 0")
	}
	select {
	case err := <-s.answer:
		if err == nil {
			t.Error("the held request got its answer; want its connection cut")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held request's connection was not cut")
	}
}
