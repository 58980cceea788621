package sysuser

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// authResponse is PartnerSystemUserService's AuthenticationResponse, read
// from SOAP or REST.
type authResponse struct {
	IsSuccessful bool
	Token        string
	ErrorMessage string
}

// token returns the JWT of a successful answer, or the refusal as an
// *AuthenticationError.
func (a authResponse) token(contextIdentifier string) (string, error) {
	if !a.IsSuccessful {
		return "", &AuthenticationError{Message: serverText(a.ErrorMessage), ContextIdentifier: contextIdentifier}
	}
	if a.Token == "" {
		return "", malformed("IsSuccessful is true but Token is empty")
	}
	return a.Token, nil
}

// authenticate signs and sends the token, retrying transient failures, and
// returns the JWT. Each attempt signs anew, so its timestamp is current. x,
// when not nil, is told of each attempt and retry.
func (c *Client) authenticate(ctx context.Context, contextIdentifier, systemUserToken string, x *exchangeObs) (string, error) {
	for attempt := 1; ; attempt++ {
		x.attempt()
		signed, err := c.signer.SignAt(systemUserToken, c.now())
		if err != nil {
			return "", err
		}
		var ar *authResponse
		if c.protocol == REST {
			ar, err = c.authenticateREST(ctx, signed, contextIdentifier)
		} else {
			ar, err = c.authenticateSOAP(ctx, signed, contextIdentifier)
		}
		if err == nil {
			return ar.token(contextIdentifier)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("sysuser: exchange: %w", ctxErr)
		}
		if attempt >= c.attempts || !retryable(err) {
			return "", err
		}
		wait, ok := retryDelay(err, attempt, c.retryGap, time.Now())
		if !ok {
			return "", err
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: retrying exchange", slog.String("tenant", contextIdentifier),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		x.retry(ctx, attempt, wait, err)
		if serr := sleep(ctx, wait); serr != nil {
			return "", fmt.Errorf("sysuser: exchange: %w (after %w)", serr, err)
		}
	}
}
