package api

import "net/http"

// Code is a gRPC status code, the `code` of Nakama's error body.
type Code int

// The gRPC codes, with Nakama's numbering.
const (
	CodeOK                 Code = 0
	CodeCanceled           Code = 1
	CodeUnknown            Code = 2
	CodeInvalidArgument    Code = 3
	CodeDeadlineExceeded   Code = 4
	CodeNotFound           Code = 5
	CodeAlreadyExists      Code = 6
	CodePermissionDenied   Code = 7
	CodeResourceExhausted  Code = 8
	CodeFailedPrecondition Code = 9
	CodeAborted            Code = 10
	CodeOutOfRange         Code = 11
	CodeUnimplemented      Code = 12
	CodeInternal           Code = 13
	CodeUnavailable        Code = 14
	CodeDataLoss           Code = 15
	CodeUnauthenticated    Code = 16
)

// HTTPStatus is grpc-gateway's fixed mapping from code to HTTP status, which Nakama's clients see.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeOK:
		return http.StatusOK
	case CodeCanceled:
		return 499
	case CodeUnknown, CodeInternal, CodeDataLoss:
		return http.StatusInternalServerError
	case CodeInvalidArgument, CodeFailedPrecondition, CodeOutOfRange:
		return http.StatusBadRequest
	case CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case CodeNotFound:
		return http.StatusNotFound
	case CodeAlreadyExists, CodeAborted:
		return http.StatusConflict
	case CodePermissionDenied:
		return http.StatusForbidden
	case CodeResourceExhausted:
		return http.StatusTooManyRequests
	case CodeUnimplemented:
		return http.StatusNotImplemented
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// Error is Nakama's error body: {"code": 16, "message": "Auth token invalid"}.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Error implements error, so handlers and server code can return an *Error directly.
func (e *Error) Error() string { return e.Message }

// NewError returns an error with the given message and code.
func NewError(code Code, message string) *Error { return &Error{Code: code, Message: message} }
