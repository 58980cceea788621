// Package example exercises every kind of line apilist writes.
package example

import (
	"errors"
	"io"
	"time"
)

// Level is a level.
type Level int

// The levels.
const (
	Low Level = iota
	High
	hidden
)

// Timeout and Name are plain constants.
const (
	Timeout = 2 * time.Second
	Name    = "example"
)

// Errors.
var (
	ErrX    = errors.New("x")
	Default = &Options{}
	Count   int
)

// Options has exported and unexported fields.
type Options struct {
	A, B   string `json:"a"`
	Hook   func(name string, n int) error
	secret string
	io.Reader
}

// Store may be implemented outside.
type Store interface {
	Get(key string) (value []byte, err error)
	io.Closer
}

// sealed may not.
type Sealed interface {
	Open() error
	seal()
}

// Pair is generic.
type Pair[K comparable, V any] struct{ Key K }

// Alias is an alias.
type Alias = Options

// New makes Options.
func New(a, b string) *Options { return &Options{A: a, B: b} }

// Map is generic.
func Map[T, U any](in []T, f func(T) U) []U { return nil }

// Close is a method.
func (o *Options) Close() error { return nil }

// Level's String.
func (l Level) String() string { return "" }

func (o *Options) unexported() {}

func internal() {}
