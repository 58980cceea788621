package sysuser

import (
	"context"
	"encoding/json"
	"net/http"
)

// restRequest is the JSON body of the REST Authenticate call.
type restRequest struct {
	SignedSystemToken string `json:"SignedSystemToken"`
	ApplicationToken  string `json:"ApplicationToken"`
	ContextIdentifier string `json:"ContextIdentifier"`
	ReturnTokenType   string `json:"ReturnTokenType"`
}

// authenticateREST posts the JSON twin of the SOAP request and reads the
// answer.
func (c *Client) authenticateREST(ctx context.Context, signedToken, contextIdentifier string) (*authResponse, error) {
	body, err := json.Marshal(restRequest{
		SignedSystemToken: signedToken,
		ApplicationToken:  *c.appToken,
		ContextIdentifier: contextIdentifier,
		ReturnTokenType:   "JWT",
	})
	if err != nil {
		return nil, err
	}
	resp, respBody, err := send(ctx, c.http, request{
		method: http.MethodPost,
		url:    c.loginURL + restPath,
		body:   body,
		header: [][2]string{{"Content-Type", "application/json"}, {"Accept", "application/json"}},
	})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp, respBody)
	}
	return parseRESTResponse(respBody)
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
