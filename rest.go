package sysuser

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// RESTPath is the REST endpoint of PartnerSystemUserService, below the
// login URL.
const RESTPath = "/api/PartnerSystemUser/Authenticate"

// restRequest is the JSON body of the REST Authenticate call.
type restRequest struct {
	SignedSystemToken string `json:"SignedSystemToken"`
	ApplicationToken  string `json:"ApplicationToken"`
	ContextIdentifier string `json:"ContextIdentifier"`
	ReturnTokenType   string `json:"ReturnTokenType"`
}

// authenticateREST posts the JSON twin of the SOAP request and returns the
// JWT from a successful answer.
func (c *Client) authenticateREST(ctx context.Context, signedToken, contextIdentifier string) (string, error) {
	body, err := json.Marshal(restRequest{
		SignedSystemToken: signedToken,
		ApplicationToken:  c.secrets.appToken,
		ContextIdentifier: contextIdentifier,
		ReturnTokenType:   "JWT",
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.loginURL+RESTPath, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	respBody, err := readCapped(resp)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", httpError(resp, respBody)
	}
	ar, err := parseRESTResponse(respBody)
	if err != nil {
		return "", err
	}
	return ar.result(contextIdentifier)
}

// parseRESTResponse reads {"IsSuccessful": ..., "Token": ..., "ErrorMessage": ...}.
func parseRESTResponse(data []byte) (*authResponse, error) {
	var r struct {
		IsSuccessful *bool   `json:"IsSuccessful"`
		Token        *string `json:"Token"`
		ErrorMessage *string `json:"ErrorMessage"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, malformed("response is not the expected JSON object")
	}
	if r.IsSuccessful == nil {
		return nil, malformed("response has no IsSuccessful")
	}
	ar := &authResponse{IsSuccessful: *r.IsSuccessful}
	if r.Token != nil {
		ar.Token = *r.Token
	}
	if r.ErrorMessage != nil {
		ar.ErrorMessage = *r.ErrorMessage
	}
	return ar, nil
}
