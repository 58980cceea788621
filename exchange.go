package sysuser

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Exchange signs systemUserToken for the current minute, sends it to
// PartnerSystemUserService for the tenant contextIdentifier (e.g.
// "Cust12345"), verifies the JWT that comes back and returns its claims.
//
// Every call creates a credentials record in the tenant's database and the
// ticket lasts hours: do not call Exchange per request. Client.Tenant gives
// a handle whose Ticket and HTTP client cache the result.
//
// Transient failures (connection refused or reset, a timeout before the
// answer began, HTTP 429, 502, 503, 504) are retried up to
// Config.MaxAttempts times, each attempt signing anew, all within ctx and
// within Config.ExchangeTimeout.
//
// Errors: *AuthenticationError when SuperOffice refuses; ErrInvalidToken
// when the JWT fails verification; ErrKeySetUnavailable when SuperOffice's
// keys could not be fetched; *FaultError for a SOAP fault; *HTTPError for
// another unexpected status; ErrMalformedResponse for an unreadable answer;
// ErrCrossHostRedirect; ErrInvalidArgument for empty arguments; ctx's error
// when it ends first. No error carries a secret.
func (c *Client) Exchange(ctx context.Context, contextIdentifier, systemUserToken string) (*SystemUserResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.exchangeTimeout)
	defer cancel()
	start := time.Now()
	var x *exchangeObs
	if c.obs != nil {
		ctx, x = c.observeExchange(ctx, contextIdentifier)
	}
	res, err := c.exchange(ctx, contextIdentifier, systemUserToken, x)
	if x != nil {
		x.done(ctx, time.Since(start), err)
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: exchange failed",
			slog.String("tenant", contextIdentifier), slog.String("protocol", c.protocol.String()),
			slog.Duration("duration", time.Since(start)), slog.String("error", err.Error()))
		return nil, err
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "sysuser: exchange",
		slog.String("tenant", contextIdentifier), slog.String("protocol", c.protocol.String()),
		slog.Duration("duration", time.Since(start)))
	return res, nil
}

func (c *Client) exchange(ctx context.Context, contextIdentifier, systemUserToken string, x *exchangeObs) (*SystemUserResult, error) {
	if err := checkContextIdentifier(contextIdentifier); err != nil {
		return nil, err
	}
	if systemUserToken == "" {
		return nil, argError("system user token is empty")
	}
	raw, err := c.authenticate(ctx, contextIdentifier, systemUserToken, x)
	if err != nil {
		return nil, err
	}
	res, err := c.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(res.ContextIdentifier, contextIdentifier) {
		return nil, tokenError(fmt.Sprintf("token is for tenant %q, not %q", res.ContextIdentifier, contextIdentifier), nil)
	}
	return res, nil
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
