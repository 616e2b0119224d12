package adminapi

import (
	"maps"
	"net/http"
	"slices"
	"strings"
)

// handlerFunc is a route's handler; an error it returns is written through the wire-error table.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one row of the route table.
type route struct {
	method string
	path   string
	h      handlerFunc
}

// routes is every path the admin API serves. {id} is a user id, {session_id} a session id.
func (a *API) routes() []route {
	return []route{
		{"GET", "/v1/users", a.findUser}, // ?username= | ?email= | ?device_id= | ?custom_id=, exactly one
		{"GET", "/v1/users/{id}", a.user},
		{"DELETE", "/v1/users/{id}", a.deleteUser},
		{"GET", "/v1/users/{id}/sessions", a.listSessions},
		{"DELETE", "/v1/users/{id}/sessions", a.endSessions},
		{"DELETE", "/v1/users/{id}/sessions/{session_id}", a.endSession},
		{"GET", "/v1/users/{id}/events", a.listEvents},
		{"POST", "/v1/users/{id}/ban", a.ban},
		{"POST", "/v1/users/{id}/unban", a.unban},
	}
}

// mount registers the table. Each path gets one handler that dispatches on the method, so that a known
// path with another method answers code 12 (as the client API does) with an Allow header, and unknown
// paths answer 404 with code 5.
func (a *API) mount() {
	byPath := map[string]map[string]handlerFunc{}
	var order []string
	for _, rt := range a.routes() {
		if byPath[rt.path] == nil {
			byPath[rt.path] = map[string]handlerFunc{}
			order = append(order, rt.path)
		}
		byPath[rt.path][rt.method] = rt.h
	}
	for _, path := range order {
		methods := byPath[path]
		allowed := strings.Join(slices.Sorted(maps.Keys(methods)), ", ")
		a.mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok {
				w.Header().Set("Allow", allowed)
				a.writeError(w, r, errMethodNotAllowed)
				return
			}
			if err := h(w, r); err != nil {
				a.writeError(w, r, err)
			}
		}))
	}
	a.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errNotFound)
	}))
}
