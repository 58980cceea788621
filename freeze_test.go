package sysuser_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-superoffice/sysuser"
)

// freezeChildEnv makes the test binary, run by TestTicketAfterFreeze, act
// as the process that is frozen; its value is the subtest's name.
const freezeChildEnv = "SYSUSER_FREEZE_CHILD"

// The frozen process's settings: a ticket lifetime short enough that the
// freeze outlasts it several times over.
const (
	freezeRefreshAge = 100 * time.Millisecond
	freezeLifetime   = 300 * time.Millisecond
	freezeFor        = 400 * time.Millisecond
	// freezeWatch is how long the child is watched after each time it
	// resumes, by the wall clock.
	freezeWatch = 100 * time.Millisecond
	// freezeCycles is how many times the child is stopped and continued:
	// when a stopped process's timers fire after it continues depends on
	// the moment it was stopped.
	freezeCycles = 4
)

// freezeReport is what the child tells the parent about the calls it made
// in the freezeWatch after each time it resumed.
type freezeReport struct {
	Calls      int           // calls to Ticket after resuming
	Stale      int           // of those, calls that returned a ticket past its lifetime
	MaxAge     time.Duration // the oldest such ticket's age (idle time with SlidingExpiry)
	LastStale  time.Duration // how long after resuming the last such call started
	MinGap     time.Duration // the shortest time the child saw itself stopped
	Errors     int
	FirstError string
}

// TestTicketAfterFreeze stops a process that calls Ticket in a loop on one
// CPU (SIGSTOP), continues it (SIGCONT) after longer than the ticket
// lifetime, and checks the age of every ticket it got afterwards: none may
// be past TicketLifetime by the wall clock. A stopped process's timers
// fire late, so a cached path that trusts them alone hands out the ticket
// it had when it stopped.
func TestTicketAfterFreeze(t *testing.T) {
	if mode := os.Getenv(freezeChildEnv); mode != "" {
		freezeChild(t, mode)
		return
	}
	if testing.Short() {
		t.Skip("starts two child processes and stops each four times, about 4 s")
	}
	for _, mode := range []string{"hourly", "sliding"} {
		t.Run(mode, func(t *testing.T) {
			rep := runFrozenChild(t, mode)
			t.Logf("%s: stopped %d times for at least %v; %d calls in the %v after each resume, %d past the lifetime (%v), oldest %v, last at +%v",
				mode, freezeCycles, rep.MinGap, rep.Calls, freezeWatch, rep.Stale, freezeLifetime, rep.MaxAge, rep.LastStale)
			if rep.Errors > 0 {
				t.Errorf("%d calls failed, the first: %s", rep.Errors, rep.FirstError)
			}
			if rep.Calls < 100 {
				t.Fatalf("only %d calls after resuming: the child hardly ran", rep.Calls)
			}
			if rep.Stale > 0 {
				t.Errorf("%d of %d calls after resuming returned a ticket past its lifetime of %v; the oldest was %v old, the last such call %v after resuming",
					rep.Stale, rep.Calls, freezeLifetime, rep.MaxAge, rep.LastStale)
			}
		})
	}
}

// runFrozenChild runs the test binary as the child for mode, freezes it
// while it calls Ticket, and returns its report.
func runFrozenChild(t *testing.T, mode string) freezeReport {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestTicketAfterFreeze$", "-test.count=1")
	cmd.Env = append(os.Environ(), freezeChildEnv+"="+mode, "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()

	lines := bufio.NewScanner(out)
	next := func(prefix string) string {
		for lines.Scan() {
			if s, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				return s
			}
		}
		t.Fatalf("the child ended without a %q line (%v)", prefix, lines.Err())
		return ""
	}
	next("freeze-ready")
	for i := 0; i < freezeCycles; i++ {
		time.Sleep(100 * time.Millisecond) // let it loop
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(freezeFor)
		if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		next("freeze-watched")
	}
	var rep freezeReport
	if err := json.Unmarshal([]byte(next("freeze-report ")), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// freezeChild is the frozen process: one CPU, one goroutine calling Ticket
// in a loop. It finds each freeze by the gap between two calls, and
// reports on every call in the freezeWatch after it.
func freezeChild(t *testing.T, mode string) {
	runtime.GOMAXPROCS(1)
	env := newTestEnv(t, nil, func(c *sysuser.Config) {
		c.RefreshAge, c.TicketLifetime = freezeRefreshAge, freezeLifetime
		c.SlidingExpiry = mode == "sliding"
	})
	defer env.client.Close()
	tenant := env.client.Tenant(testTenant, testUserToken)
	ctx := context.Background()
	if _, err := tenant.Ticket(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println("freeze-ready")

	// lastUse is when each ticket was last handed out; with SlidingExpiry
	// a ticket's age is the time since then. A call's start stands for when
	// it was made.
	lastUse := map[string]time.Time{}
	var rep freezeReport
	var resumed time.Time
	freezes := 0
	prev := time.Now().Round(0)
	deadline := prev.Add(30 * time.Second)
	for freezes < freezeCycles && prev.Before(deadline) {
		start := time.Now().Round(0) // the wall clock
		if resumed.IsZero() {
			// A gap this long is a freeze, not the scheduler.
			if gap := start.Sub(prev); gap >= freezeFor/2 {
				resumed = start
				if rep.MinGap == 0 || gap < rep.MinGap {
					rep.MinGap = gap
				}
			}
		} else if start.Sub(resumed) > freezeWatch {
			resumed = time.Time{}
			freezes++
			fmt.Println("freeze-watched")
		}
		prev = start
		res, err := tenant.Ticket(ctx)
		// A ticket is used when the caller gets it: the process may have
		// been stopped inside the call.
		end := time.Now().Round(0)
		if resumed.IsZero() {
			if err == nil {
				lastUse[res.Ticket] = end
			}
			continue
		}
		rep.Calls++
		if err != nil {
			if rep.Errors++; rep.Errors == 1 {
				rep.FirstError = err.Error()
			}
			continue
		}
		since := res.ReceivedAt.Round(0)
		if last, ok := lastUse[res.Ticket]; ok && mode == "sliding" {
			since = last
		}
		lastUse[res.Ticket] = end
		if age := start.Sub(since); age >= freezeLifetime {
			rep.Stale++
			rep.MaxAge = max(rep.MaxAge, age)
			rep.LastStale = max(rep.LastStale, start.Sub(resumed))
		}
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("freeze-report %s\n", b)
}
