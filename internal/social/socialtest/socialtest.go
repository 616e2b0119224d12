// Package socialtest runs stand-ins for the social sign-in providers on one local HTTPS server, with keys
// made at start, and mints the credentials they accept, so that package social is tested against real
// signatures and real HTTP. latchkey-fakesocial serves the same stand-ins outside tests.
package socialtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/social"
)

// Provider names one stand-in.
type Provider string

// The stand-ins.
const (
	Apple           Provider = "apple"           // Sign in with Apple key set
	Google          Provider = "google"          // Google key set
	Facebook        Provider = "facebook"        // Graph API /me
	FacebookLimited Provider = "facebooklimited" // Facebook Limited Login key set
	Steam           Provider = "steam"           // ISteamUserAuth/AuthenticateUserTicket
	GameCenter      Provider = "gamecenter"      // Game Center certificates
)

// Behavior is how a stand-in answers.
type Behavior int

const (
	// Normal answers like the provider.
	Normal Behavior = iota
	// Down answers 503.
	Down
	// Slow does not answer until the client gives up (or SlowFor passes, or the server closes).
	Slow
	// Malformed answers 200 with a body that is not what the provider sends.
	Malformed
)

// SlowFor is the longest a Slow stand-in holds a request.
const SlowFor = time.Minute

// KeysMaxAge is the Cache-Control max-age of every key set and certificate the stand-ins serve.
const KeysMaxAge = 10 * time.Minute

// Application settings of the stand-ins, as Config returns them.
const (
	BundleID       = "com.example.game"
	GoogleClientID = "latchkey-test.apps.googleusercontent.com"
	FacebookAppID  = "100000000000001"
	SteamAppID     = 480
)

// Issuers written into minted ID tokens.
const (
	AppleIssuer    = "https://appleid.apple.com"
	GoogleIssuer   = "https://accounts.google.com"
	FacebookIssuer = "https://www.facebook.com"
)

// Providers is a running set of stand-ins. Its methods are safe for concurrent use.
type Providers struct {
	// URL is the HTTPS base URL of the server, https://127.0.0.1:PORT.
	URL string
	// InstantGameSecret and SteamPublisherKey are made at start.
	InstantGameSecret string
	SteamPublisherKey string

	server  *httptest.Server
	caFile  string
	closing chan struct{}

	mu         sync.Mutex
	keys       map[Provider][]signer // newest first; the key sets serve the newest two
	behavior   map[Provider]Behavior
	hits       map[Provider]int
	graphUsers map[string]graphUser // by access token
	tickets    map[string]string    // Steam ticket -> SteamID
	gcCerts    map[string][]byte    // Game Center certificate DER by name
	gcName     string               // the current Game Center certificate
	gcKey      *rsa.PrivateKey
}

type signer struct {
	kid string
	key *rsa.PrivateKey
}

type graphUser struct{ id, name string }

// New starts the stand-ins on 127.0.0.1 and writes the PEM certificate of the CA that signed the server's
// certificate into dir (see CAFile). Close stops them.
func New(dir string) (*Providers, error) {
	caPEM, serverCert, err := makeTLS()
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "socialtest-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Providers{
		InstantGameSecret: randomHex(16),
		SteamPublisherKey: strings.ToUpper(randomHex(16)),
		caFile:            caFile,
		closing:           make(chan struct{}),
		keys:              map[Provider][]signer{},
		behavior:          map[Provider]Behavior{},
		hits:              map[Provider]int{},
		graphUsers:        map[string]graphUser{},
		tickets:           map[string]string{},
		gcCerts:           map[string][]byte{},
	}
	p.server = &httptest.Server{
		Listener: ln,
		Config: &http.Server{
			Handler:           p.routes(),
			ReadHeaderTimeout: 10 * time.Second,
			// Clients that refuse the certificate are part of the tests; their handshake errors are noise.
			ErrorLog: log.New(io.Discard, "", 0),
		},
		TLS: &tls.Config{Certificates: []tls.Certificate{serverCert}},
	}
	p.server.StartTLS()
	p.URL = p.server.URL
	return p, nil
}

// Close stops the server, releasing requests held by Slow.
func (p *Providers) Close() {
	close(p.closing)
	p.server.Close()
}

// CAFile is the PEM file of the CA to trust for the stand-ins' HTTPS.
func (p *Providers) CAFile() string { return p.caFile }

// Config is a social.Config with every endpoint at the stand-ins and the application settings above.
// Timeout is left 0 (the default).
func (p *Providers) Config() social.Config {
	var c social.Config
	c.Apple.BundleID = BundleID
	c.Apple.KeysURL = p.URL + "/apple/auth/keys"
	c.Google.ClientIDs = []string{GoogleClientID}
	c.Google.KeysURL = p.URL + "/google/oauth2/v3/certs"
	c.Facebook.GraphURL = p.URL + "/graph"
	c.FacebookLimitedLogin.AppID = FacebookAppID
	c.FacebookLimitedLogin.KeysURL = p.URL + "/facebook/.well-known/oauth/openid/jwks/"
	c.FacebookInstantGame.AppSecret = p.InstantGameSecret
	c.Steam.PublisherKey = p.SteamPublisherKey
	c.Steam.AppID = SteamAppID
	c.Steam.APIURL = p.URL + "/steam"
	c.GameCenter.KeyHostSuffixes = []string{strings.TrimPrefix(p.URL, "https://")}
	c.CAFile = p.caFile
	return c
}

// Set makes provider answer with b from now on.
func (p *Providers) Set(provider Provider, b Behavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.behavior[provider] = b
}

// Hits is the number of requests provider's endpoints have received.
func (p *Providers) Hits(provider Provider) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[provider]
}

// RotateKeys makes a new signing key for provider (a new kid, or for GameCenter a certificate at a new
// URL). Key sets keep serving the previous key beside the new one.
func (p *Providers) RotateKeys(provider Provider) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if provider == GameCenter {
		p.newGameCenterKeyLocked()
		return
	}
	p.newKeyLocked(provider)
}

// Key is provider's current signing key id and public key.
func (p *Providers) Key(provider Provider) (kid string, pub *rsa.PublicKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.signerLocked(provider)
	return s.kid, &s.key.PublicKey
}

func (p *Providers) signerLocked(provider Provider) signer {
	if len(p.keys[provider]) == 0 {
		p.newKeyLocked(provider)
	}
	return p.keys[provider][0]
}

func (p *Providers) newKeyLocked(provider Provider) {
	s := signer{kid: string(provider) + "-" + randomHex(6), key: mustRSAKey()}
	p.keys[provider] = append([]signer{s}, p.keys[provider]...)
	if len(p.keys[provider]) > 2 {
		p.keys[provider] = p.keys[provider][:2]
	}
}

// Claims are the claims provider puts in an ID token for sub and aud expiring at exp; change them and pass
// them to Token to mint a token the provider would not issue.
func (p *Providers) Claims(provider Provider, sub, aud string, exp time.Time) map[string]any {
	iat := time.Now()
	if early := exp.Add(-time.Hour); early.Before(iat) {
		iat = early
	}
	c := map[string]any{"sub": sub, "aud": aud, "exp": exp.Unix(), "iat": iat.Unix()}
	switch provider {
	case Apple:
		c["iss"] = AppleIssuer
		c["email"] = sub + "@privaterelay.appleid.com"
		c["email_verified"] = "true"
		c["is_private_email"] = "true"
	case Google:
		c["iss"] = GoogleIssuer
		c["azp"] = aud
		c["email"] = sub + "@gmail.example"
		c["email_verified"] = true
		c["name"] = "Player " + sub
		c["picture"] = "https://lh3.googleusercontent.example/" + sub
	case FacebookLimited:
		c["iss"] = FacebookIssuer
		c["jti"] = randomHex(8)
		c["nonce"] = randomHex(8)
		c["name"] = "Player " + sub
		c["email"] = sub + "@facebook.example"
		c["picture"] = "https://platform-lookaside.fbsbx.example/" + sub
	}
	return c
}

// Token signs claims with provider's current key, RS256 with its kid, as the provider would.
func (p *Providers) Token(provider Provider, claims map[string]any) string {
	p.mu.Lock()
	s := p.signerLocked(provider)
	p.mu.Unlock()
	return SignJWT(map[string]any{"alg": "RS256", "kid": s.kid, "typ": "JWT"}, claims, RS256(s.key))
}

// AppleToken mints a Sign in with Apple ID token.
func (p *Providers) AppleToken(sub, aud string, exp time.Time) string {
	return p.Token(Apple, p.Claims(Apple, sub, aud, exp))
}

// GoogleToken mints a Google ID token.
func (p *Providers) GoogleToken(sub, aud string, exp time.Time) string {
	return p.Token(Google, p.Claims(Google, sub, aud, exp))
}

// FacebookLimitedToken mints a Facebook Limited Login token.
func (p *Providers) FacebookLimitedToken(sub, aud string, exp time.Time) string {
	return p.Token(FacebookLimited, p.Claims(FacebookLimited, sub, aud, exp))
}

// FacebookAccessToken mints a classic Facebook access token that the Graph stand-in answers for.
func (p *Providers) FacebookAccessToken(id, name string) string {
	token := "EAAT" + randomHex(40)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.graphUsers[token] = graphUser{id: id, name: name}
	return token
}

// SteamTicket mints a session ticket that the Steam stand-in authenticates as steamID.
func (p *Providers) SteamTicket(steamID string) string {
	ticket := strings.ToUpper(randomHex(120))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tickets[ticket] = steamID
	return ticket
}

// InstantGame mints a Facebook Instant Games signed_player_info for playerID, signed with secret.
func (p *Providers) InstantGame(secret, playerID string) string {
	return SignPlayerInfo(secret, map[string]any{
		"algorithm":       "HMAC-SHA256",
		"issued_at":       time.Now().Unix(),
		"player_id":       playerID,
		"request_payload": "",
	})
}

// SignPlayerInfo builds a signed_player_info of any payload: base64url(HMAC-SHA256 of the encoded payload
// keyed with secret) "." base64url(payload JSON).
func SignPlayerInfo(secret string, payload map[string]any) string {
	body, _ := json.Marshal(payload)
	part := base64.RawURLEncoding.EncodeToString(body)
	return base64.RawURLEncoding.EncodeToString(HS256([]byte(secret))([]byte(part))) + "." + part
}

// GameCenter mints a Game Center identity signature, signed by the certificate the stand-in serves at the
// credential's PublicKeyURL (DER; the same name with .pem serves it as PEM).
func (p *Providers) GameCenter(playerID, bundleID string, ts time.Time) social.GameCenterCredential {
	p.mu.Lock()
	if p.gcKey == nil {
		p.newGameCenterKeyLocked()
	}
	key, name := p.gcKey, p.gcName
	p.mu.Unlock()
	salt := make([]byte, 8)
	rand.Read(salt)
	signed := append([]byte(playerID+bundleID), binary.BigEndian.AppendUint64(nil, uint64(ts.Unix()))...)
	signed = append(signed, salt...)
	digest := sha256.Sum256(signed)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return social.GameCenterCredential{
		PlayerID:         playerID,
		BundleID:         bundleID,
		TimestampSeconds: ts.Unix(),
		Salt:             base64.StdEncoding.EncodeToString(salt),
		Signature:        base64.StdEncoding.EncodeToString(sig),
		PublicKeyURL:     p.URL + "/gamecenter/public-key/" + name + ".cer",
	}
}

func (p *Providers) newGameCenterKeyLocked() {
	key := mustRSAKey()
	name := fmt.Sprintf("gc-test-%d", len(p.gcCerts)+1)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(len(p.gcCerts) + 1)),
		Subject:      pkix.Name{CommonName: "Game Center stand-in " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	p.gcKey, p.gcName, p.gcCerts[name] = key, name, der
}

// SignJWT builds a compact JWS of header and claims, signed by sign over the signing input.
func SignJWT(header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

// RS256 signs with key, RSA PKCS #1 v1.5 over SHA-256.
func RS256(key *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		digest := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// HS256 signs with secret, HMAC-SHA256.
func HS256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		mac := hmac.New(sha256.New, secret)
		mac.Write(input)
		return mac.Sum(nil)
	}
}

func (p *Providers) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /apple/auth/keys", p.serve(Apple, p.keySet(Apple)))
	mux.Handle("GET /google/oauth2/v3/certs", p.serve(Google, p.keySet(Google)))
	mux.Handle("GET /facebook/.well-known/oauth/openid/jwks/", p.serve(FacebookLimited, p.keySet(FacebookLimited)))
	mux.Handle("GET /graph/me", p.serve(Facebook, p.graphMe))
	mux.Handle("GET /graph/{version}/me", p.serve(Facebook, p.graphMe))
	mux.Handle("GET /steam/ISteamUserAuth/AuthenticateUserTicket/v1/", p.serve(Steam, p.steamAuth))
	mux.Handle("GET /gamecenter/public-key/{name}", p.serve(GameCenter, p.gameCenterCert))
	return mux
}

// serve counts the request and applies provider's behavior before h answers normally.
func (p *Providers) serve(provider Provider, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits[provider]++
		b := p.behavior[provider]
		p.mu.Unlock()
		switch b {
		case Down:
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		case Malformed:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"keys": [ <html>garbage`))
			return
		case Slow:
			select {
			case <-r.Context().Done():
				// The client gave up: drop the connection without an answer.
				panic(http.ErrAbortHandler)
			case <-p.closing:
				panic(http.ErrAbortHandler)
			case <-time.After(SlowFor):
			}
		}
		h(w, r)
	})
}

func (p *Providers) keySet(provider Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.signerLocked(provider)
		var keys []map[string]string
		for _, s := range p.keys[provider] {
			keys = append(keys, map[string]string{
				"kty": "RSA", "kid": s.kid, "use": "sig", "alg": "RS256",
				"n": base64.RawURLEncoding.EncodeToString(s.key.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(s.key.E)).Bytes()),
			})
		}
		p.mu.Unlock()
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, must-revalidate, no-transform", int(KeysMaxAge/time.Second)))
		writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	}
}

// graphMe answers like the Graph API's /me: the requested fields for a token it issued, else a Graph
// OAuthException.
func (p *Providers) graphMe(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("access_token")
	if token == "" {
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if token == "" {
		graphError(w, 2500, "An active access token must be used to query information about the current user.")
		return
	}
	p.mu.Lock()
	u, ok := p.graphUsers[token]
	p.mu.Unlock()
	if !ok {
		graphError(w, 190, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	fields := r.URL.Query().Get("fields")
	if fields == "" {
		fields = "id,name"
	}
	me := map[string]any{}
	for _, f := range strings.Split(fields, ",") {
		switch strings.TrimSpace(f) {
		case "id":
			me["id"] = u.id
		case "name":
			me["name"] = u.name
		case "email":
			me["email"] = u.id + "@facebook.example"
		case "picture":
			me["picture"] = map[string]any{"data": map[string]any{
				"height": 50, "width": 50, "is_silhouette": false,
				"url": "https://platform-lookaside.fbsbx.example/" + u.id,
			}}
		}
	}
	writeJSON(w, http.StatusOK, me)
}

func graphError(w http.ResponseWriter, code int, message string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
		"message": message, "type": "OAuthException", "code": code, "fbtrace_id": randomHex(8),
	}})
}

// steamAuth answers like ISteamUserAuth/AuthenticateUserTicket/v1.
func (p *Providers) steamAuth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("key") != p.SteamPublisherKey {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("<html><head><title>Forbidden</title></head><body><h1>Forbidden</h1>Access is denied. Retrying will not help. Please verify your <pre>key=</pre> parameter.</body></html>"))
		return
	}
	for _, name := range []string{"appid", "ticket"} {
		if q.Get(name) == "" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<html><head><title>Bad Request</title></head><body><h1>Bad Request</h1>Required parameter '%s' is missing</body></html>", name)
			return
		}
	}
	p.mu.Lock()
	steamID, ok := p.tickets[q.Get("ticket")]
	p.mu.Unlock()
	var resp any
	switch {
	case !ok:
		resp = map[string]any{"error": map[string]any{"errorcode": 101, "errordesc": "Invalid ticket"}}
	case q.Get("appid") != strconv.Itoa(SteamAppID):
		resp = map[string]any{"error": map[string]any{"errorcode": 102, "errordesc": "Ticket for other app"}}
	default:
		resp = map[string]any{"params": map[string]any{
			"result": "OK", "steamid": steamID, "ownersteamid": steamID, "vacbanned": false, "publisherbanned": false,
		}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"response": resp})
}

// gameCenterCert serves a Game Center certificate: name.cer as DER, as Apple does, name.pem as PEM.
func (p *Providers) gameCenterCert(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("name")
	ext := filepath.Ext(file)
	p.mu.Lock()
	der, ok := p.gcCerts[strings.TrimSuffix(file, ext)]
	p.mu.Unlock()
	if !ok || (ext != ".cer" && ext != ".pem") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", int(KeysMaxAge/time.Second)))
	if ext == ".pem" {
		w.Header().Set("Content-Type", "application/x-pem-file")
		pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Write(der)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// makeTLS makes a CA and a certificate it signs for the loopback addresses, returning the CA as PEM.
func makeTLS() (caPEM []byte, server tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, server, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "latchkey socialtest CA " + randomHex(4)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, server, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, server, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, server, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, server, err
	}
	server = tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), server, nil
}

func mustRSAKey() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
