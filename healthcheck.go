package latchkey

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
)

const healthcheckUsage = `Usage: latchkey healthcheck [flags]

Asks the server on this machine for GET /healthcheck, on socket.port of 127.0.0.1 (or of socket.address
when that names one address), over HTTPS when socket.ssl_certificate is set, and exits 0 when it answers
200 within 3 seconds, 1 otherwise, with one line saying why. For a container's HEALTHCHECK:

  HEALTHCHECK CMD ["latchkey", "healthcheck", "--config", "/etc/latchkey/config.yml"]

Takes the same config flags as the server, so it asks the port the server listens on. Over HTTPS it checks
that the server presents the certificate in socket.ssl_certificate (the loopback address is not one of the
names the certificate is for, so the usual name check cannot apply).
`

// healthcheckTimeout bounds the whole check, connection and answer.
const healthcheckTimeout = 3 * time.Second

func (a *App) healthcheck(ctx context.Context, args []string) error {
	cfg, rest, _, err := a.command(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &usageError{cmd: "healthcheck", msg: fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	url, client, err := healthcheckClient(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", url, res.Status)
	}
	fmt.Fprintf(a.stdout, "healthy: %s answered %s\n", url, res.Status)
	return nil
}

// healthcheckClient returns the URL of the local server's /healthcheck and a client for it: plain HTTP, or
// HTTPS that accepts exactly the leaf certificate of socket.ssl_certificate.
func healthcheckClient(cfg config.Config) (string, *http.Client, error) {
	host := cfg.Socket.Address
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // the server listens on every interface, loopback among them
	}
	addr := net.JoinHostPort(host, strconv.Itoa(cfg.Socket.Port))
	// A zero Transport uses no proxy: HTTP_PROXY must not send a health check elsewhere.
	transport := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: transport, Timeout: healthcheckTimeout}
	if cfg.Socket.SSLCertificate == "" {
		return "http://" + addr + "/healthcheck", client, nil
	}
	leaf, err := leafCertificate(cfg.Socket.SSLCertificate)
	if err != nil {
		return "", nil, err
	}
	transport.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The name check is replaced by VerifyConnection's: the server must present the configured leaf.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf.Raw) {
				return errors.New("the server presents another certificate than socket.ssl_certificate")
			}
			return nil
		},
	}
	return "https://" + addr + "/healthcheck", client, nil
}

// leafCertificate returns the first certificate of the PEM file at path.
func leafCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("socket.ssl_certificate: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("socket.ssl_certificate: %s holds no PEM certificate", path)
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("socket.ssl_certificate: %s: %w", path, err)
			}
			return cert, nil
		}
	}
}
