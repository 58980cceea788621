package sysuser

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issuerSystemUser is the iss claim of every system user token SuperOffice
// issues.
const issuerSystemUser = "SuperOffice AS"

// leewayOrDefault turns a configured leeway into the one to use: zero
// means defaultLeeway, negative means none.
func leewayOrDefault(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return defaultLeeway
	case d < 0:
		return 0
	}
	return d
}

// verifyJWT checks raw's signature with a key from keys and then the claims
// parser checks, and returns the claims. Errors match ErrInvalidToken and
// the jwt/v5 cause, except failures to obtain keys, which are returned as
// they are (they say nothing about the token).
func verifyJWT(ctx context.Context, raw string, keys keySource, parser *jwt.Parser) (jwt.MapClaims, error) {
	var fetchErr error
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, err := keys.publicKey(ctx, kid)
		var fe *keyFetchError
		if errors.As(err, &fe) {
			fetchErr = fe
		}
		return key, err
	})
	if fetchErr != nil {
		return nil, fetchErr
	}
	if err != nil {
		return nil, tokenError("verification failed", err)
	}
	return claims, nil
}

// newParser returns the one parser configuration the package uses: RS256
// only, the issuer, the audience when it is not empty (system user tokens
// check theirs against the serial claim instead), exp required, the leeway
// and the clock.
func newParser(issuer, audience string, leeway time.Duration, now func() time.Time) *jwt.Parser {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	return jwt.NewParser(opts...)
}

// checkExchangeClaims applies the checks jwt/v5 cannot express: the
// audience is "spn:" + the serial claim, and a ticket and a tenant are
// present.
func checkExchangeClaims(claims jwt.MapClaims) error {
	serial, _ := claims[claimSerial].(string)
	if serial == "" {
		return tokenError("serial claim is missing", nil)
	}
	aud, err := claims.GetAudience()
	if err != nil {
		return tokenError("aud claim is malformed", err)
	}
	want := "spn:" + serial
	found := false
	for _, a := range aud {
		found = found || a == want
	}
	if !found {
		return tokenError(fmt.Sprintf("audience is not %q", want), jwt.ErrTokenInvalidAudience)
	}
	if t, _ := claims[claimTicket].(string); t == "" {
		return tokenError("ticket claim is missing", nil)
	}
	if t, _ := claims[claimContext].(string); t == "" {
		return tokenError("ctx claim is missing", nil)
	}
	return nil
}

// Verify checks a system user token, such as the JWT PartnerSystemUserService
// returns, as Exchange does (RS256, SuperOffice's key, issuer "SuperOffice
// AS", audience "spn:" + serial, lifetime, a ticket and a tenant present)
// and returns what it says. Errors are those of Exchange's verification.
func (c *Client) Verify(ctx context.Context, token string) (*SystemUserResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	return c.verify(ctx, token)
}

func (c *Client) verify(ctx context.Context, raw string) (*SystemUserResult, error) {
	claims, err := verifyJWT(ctx, raw, c.keys, c.parser)
	if err != nil {
		return nil, err
	}
	if err := checkExchangeClaims(claims); err != nil {
		return nil, err
	}
	res := resultFromClaims(claims)
	res.Token = raw
	res.ReceivedAt = c.now()
	return res, nil
}
