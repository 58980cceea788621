package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/go-superoffice/sysuser"
)

// A Key encrypts or decrypts stored tickets. fmt, log/slog and
// encoding/json show its ID, never its Secret, for a Key printed or
// marshalled itself or reached through exported fields, slices or maps (as
// in Options). fmt cannot call Key's methods when a Key sits in an
// unexported field of a struct it prints: keep keys out of such fields.
type Key struct {
	// ID names the key in every value it encrypts, so that any replica
	// holding the key can pick it: 1 to 64 letters, digits, '-', '_' or
	// '.', such as "2026-11".
	ID string
	// Secret is the AES-256 key: 32 random bytes, from your secret store.
	Secret []byte
}

// Format prints the key's id and hides its secret, with every verb.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "redisstore.Key{ID: %q, Secret: [%d bytes]}", k.ID, len(k.Secret))
}

// LogValue gives log/slog the key's id only.
func (k Key) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// MarshalJSON writes the key's id and the size of its secret, never the
// secret, so that json.Marshal and slog's JSON handler of a Key or of
// Options show no key material.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}{k.ID, fmt.Sprintf("[%d bytes]", len(k.Secret))})
}

// key is a Key made ready: its AEAD, its HMAC key for tickets, and its
// HMAC key for invalidation messages.
type key struct {
	id     string
	aead   cipher.AEAD
	mac    []byte
	msgMAC []byte
}

// newKey derives a key's AEAD and its two HMAC keys from its secret (whose
// id and size New checked).
func newKey(k Key) (*key, error) {
	block, err := aes.NewCipher(k.Secret)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac, err := hkdf.Key(sha256.New, k.Secret, nil, "sysuser redisstore ticket hmac v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the HMAC key: %w", err)
	}
	msgMAC, err := hkdf.Key(sha256.New, k.Secret, nil, "sysuser redisstore invalidation hmac v2", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the HMAC key: %w", err)
	}
	return &key{id: k.ID, aead: aead, mac: mac, msgMAC: msgMAC}, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// sum is the hex HMAC-SHA256 of a tenant's ticket under k.
func (k *key) sum(tenant, ticket string) string {
	m := hmac.New(sha256.New, k.mac)
	io.WriteString(m, tenant)
	m.Write([]byte{0})
	io.WriteString(m, ticket)
	return hex.EncodeToString(m.Sum(nil))
}

// Stored values are: version byte 2, the key id's length (one byte), the
// key id, the GCM nonce, and the sealed JSON of the result. The associated
// data binds every field that decides whether a Client adopts the value:
// the tenant, the expiry x and the receipt time r (see additionalData).
// Version 1 values (without x and r bound) are misses.
const blobVersion = 2

// additionalData is what a value's AEAD authenticates besides the result:
// the tenant, x (Unix ms) and r (Unix µs), so that a value cannot be moved
// to another tenant nor written back with a later expiry.
func additionalData(tenant string, x, r int64) []byte {
	return fmt.Appendf(nil, "%s\x00%d\x00%d", tenant, x, r)
}

// seal encrypts res under the first key, binding the tenant, x and r.
func (s *Store) seal(tenant string, res *sysuser.SystemUserResult, x, r int64) (string, error) {
	plain, err := json.Marshal(storedResult(res))
	if err != nil {
		return "", errors.New("encoding the result failed") // without the cause: it could quote a claim
	}
	k := s.keys[0]
	ns := k.aead.NonceSize()
	out := make([]byte, 0, 2+len(k.id)+ns+len(plain)+k.aead.Overhead())
	out = append(out, blobVersion, byte(len(k.id)))
	out = append(out, k.id...)
	nonce := out[len(out) : len(out)+ns]
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("making a nonce: %w", err)
	}
	out = out[:len(out)+ns]
	out = k.aead.Seal(out, nonce, plain, additionalData(tenant, x, r))
	return string(out), nil
}

// open decrypts a stored value with its x and r, or says why it cannot.
func (s *Store) open(tenant, blob string, x, r int64) (*sysuser.SystemUserResult, string) {
	b := []byte(blob)
	if len(b) < 2 || b[0] != blobVersion {
		return nil, "unknown format"
	}
	n := int(b[1])
	if len(b) < 2+n {
		return nil, "truncated"
	}
	id := string(b[2 : 2+n])
	k := s.byID[id]
	if k == nil {
		return nil, "encrypted with key id " + strconv.Quote(id) + ", which this replica does not have"
	}
	b = b[2+n:]
	ns := k.aead.NonceSize()
	if len(b) < ns+k.aead.Overhead() {
		return nil, "truncated"
	}
	plain, err := k.aead.Open(nil, b[:ns], b[ns:], additionalData(tenant, x, r))
	if err != nil {
		return nil, "does not decrypt with key " + strconv.Quote(id) + " for this tenant, expiry and receipt time (wrong key, tampered, or another tenant's value)"
	}
	var st stored
	if err := json.Unmarshal(plain, &st); err != nil || st.Ticket == "" {
		return nil, "decrypts to no result"
	}
	res := st.result()
	if res.ReceivedAt.UnixMicro() != r {
		return nil, "its receipt time differs from the one sealed"
	}
	return res, ""
}

// stored is the JSON of a result inside a sealed value. It is the store's
// own type: sysuser.SystemUserResult's JSON is redacted.
type stored struct {
	Ticket            string         `json:"ticket"`
	WebAPIURL         string         `json:"webapi_url"`
	NetServerURL      string         `json:"netserver_url"`
	ContextIdentifier string         `json:"ctx"`
	Serial            string         `json:"serial"`
	AssociateID       string         `json:"associate_id"`
	Email             string         `json:"email"`
	UPN               string         `json:"upn"`
	IdentityProvider  string         `json:"identity_provider"`
	TenantID          string         `json:"tenant_id"`
	IsAdministrator   bool           `json:"is_administrator"`
	CompanyName       string         `json:"company_name"`
	CompanyID         string         `json:"company_id"`
	FirstName         string         `json:"first_name"`
	LastName          string         `json:"last_name"`
	IssuedAt          time.Time      `json:"iat"`
	ExpiresAt         time.Time      `json:"exp"`
	ReceivedAt        time.Time      `json:"received_at"`
	Token             string         `json:"token"`
	Claims            map[string]any `json:"claims"`
}

func storedResult(r *sysuser.SystemUserResult) stored {
	return stored{r.Ticket, r.WebAPIURL, r.NetServerURL, r.ContextIdentifier, r.Serial, r.AssociateID, r.Email, r.UPN,
		r.IdentityProvider, r.TenantID, r.IsAdministrator, r.CompanyName, r.CompanyID, r.FirstName, r.LastName,
		r.IssuedAt, r.ExpiresAt, r.ReceivedAt, r.Token, r.Claims}
}

func (st stored) result() *sysuser.SystemUserResult {
	return &sysuser.SystemUserResult{Ticket: st.Ticket, WebAPIURL: st.WebAPIURL, NetServerURL: st.NetServerURL,
		ContextIdentifier: st.ContextIdentifier, Serial: st.Serial, AssociateID: st.AssociateID, Email: st.Email,
		UPN: st.UPN, IdentityProvider: st.IdentityProvider, TenantID: st.TenantID, IsAdministrator: st.IsAdministrator,
		CompanyName: st.CompanyName, CompanyID: st.CompanyID, FirstName: st.FirstName, LastName: st.LastName,
		IssuedAt: st.IssuedAt, ExpiresAt: st.ExpiresAt, ReceivedAt: st.ReceivedAt, Token: st.Token, Claims: st.Claims}
}
