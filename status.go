package sysuser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// State is a tenant's state as SuperOffice's state API names it, such as
// "Running" or "Suspended". SuperOffice documents these names and numbers:
//
//	Unknown (0), Provisioning (1), Running (2), Deleted (3), Suspended (4),
//	OnlineMaintenance (5), OfflineMaintenance (6), ProvisioningFailed (8),
//	Deleting (10), DeleteFailed (11), MigrationPending (12)
//
// A tenant is running in Running and OnlineMaintenance. OfflineMaintenance
// (upgrades) usually lasts minutes, MigrationPending can last weeks, and a
// Suspended tenant's APIs are unavailable. A name SuperOffice adds later is
// kept as it was sent; a number this package does not know is kept as its
// decimal digits.
type State string

// stateNumbers are SuperOffice's documented state numbers, by name.
var stateNumbers = map[State]int{
	"Unknown": 0, "Provisioning": 1, "Running": 2, "Deleted": 3, "Suspended": 4,
	"OnlineMaintenance": 5, "OfflineMaintenance": 6, "ProvisioningFailed": 8,
	"Deleting": 10, "DeleteFailed": 11, "MigrationPending": 12,
}

// Number returns the state's documented number, or -1 for a state this
// package does not know.
func (s State) Number() int {
	if n, ok := stateNumbers[s]; ok {
		return n
	}
	return -1
}

// UnmarshalJSON accepts the state's name (as the state API sends it) or its
// number.
func (s *State) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var name string
		if err := json.Unmarshal(data, &name); err != nil {
			return err
		}
		*s = State(name)
		return nil
	}
	n, err := strconv.Atoi(string(data))
	if err != nil {
		return fmt.Errorf("sysuser: State is neither a name nor a number")
	}
	for name, num := range stateNumbers {
		if num == n {
			*s = name
			return nil
		}
	}
	*s = State(strconv.Itoa(n))
	return nil
}

// TenantStatus is what SuperOffice's state API says of a tenant: its state,
// where it lives now, and until when that answer holds.
type TenantStatus struct {
	// ContextIdentifier is the tenant, such as "Cust12345".
	ContextIdentifier string
	// State is the tenant's state.
	State State
	// IsRunning is SuperOffice's word on whether the tenant's APIs answer:
	// true in Running and OnlineMaintenance.
	IsRunning bool
	// Endpoint is the tenant's address now, such as
	// "https://sod2.superoffice.com/Cust12345". It changes when SuperOffice
	// moves the tenant to balance load.
	Endpoint string
	// API is the tenant's WebApi base now, as the state API sends it (its
	// "Api" field, without a trailing slash): "https://sod2.superoffice.com/Cust12345/api".
	API string
	// ValidUntil is when to ask again.
	ValidUntil time.Time
}

// UnmarshalJSON reads the state API's answer, whose fields are
// ContextIdentifier, Endpoint, State, IsRunning, ValidUntil and Api.
// Unknown fields are ignored.
func (s *TenantStatus) UnmarshalJSON(data []byte) error {
	var w struct {
		ContextIdentifier string
		Endpoint          string
		State             State
		IsRunning         bool
		ValidUntil        time.Time
		API               string `json:"Api"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*s = TenantStatus{ContextIdentifier: w.ContextIdentifier, State: w.State, IsRunning: w.IsRunning,
		Endpoint: w.Endpoint, API: w.API, ValidUntil: w.ValidUntil}
	return nil
}

// webAPIBase returns API as a WebApi base like the webapi_url claim's,
// ending in "/".
func (s *TenantStatus) webAPIBase() string {
	if s.API == "" || strings.HasSuffix(s.API, "/") {
		return s.API
	}
	return s.API + "/"
}
