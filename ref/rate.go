package ref

import (
	"fmt"
	"time"
)

// rateFloor enforces a minimum transfer rate: the bytes moved in each
// successive window must reach min bytes per second of it. Its zero value
// (min 0) enforces nothing.
type rateFloor struct {
	min    int64         // bytes per second; 0 or less: no floor
	window time.Duration // length of each window
	start  time.Time     // the current window's start
	n      int64         // bytes moved in the current window
}

// newRateFloor returns a floor of min bytes per second over windows of
// length window, starting now.
func newRateFloor(min int64, window time.Duration, now time.Time) rateFloor {
	return rateFloor{min: min, window: window, start: now}
}

// deadline returns the earlier of d and the current window's end, so that
// a read or write blocked across the window's end returns in time for
// the window to be judged.
func (r *rateFloor) deadline(d time.Time) time.Time {
	if r.min <= 0 {
		return d
	}
	if end := r.start.Add(r.window); end.Before(d) {
		return end
	}
	return d
}

// add counts n bytes moved by now, and judges the window if it has ended:
// too few bytes is a *RateError, enough starts the next window.
func (r *rateFloor) add(n int, now time.Time) error {
	if r.min <= 0 {
		return nil
	}
	r.n += int64(n)
	if now.Before(r.start.Add(r.window)) {
		return nil
	}
	if need := int64(float64(r.min) * r.window.Seconds()); r.n < need {
		return &RateError{Min: r.min, Window: r.window, Got: r.n}
	}
	r.start, r.n = now, 0
	return nil
}

// RateError reports a transfer that moved fewer bytes in one window than
// its minimum rate asks: Client.MinRate for a download, Server.MinRate for
// the data a server sends.
type RateError struct {
	Min    int64         // the minimum rate, bytes per second
	Window time.Duration // the window over which it is measured
	Got    int64         // bytes moved in the window that fell short
}

// Error says how far the transfer fell short.
func (e *RateError) Error() string {
	return fmt.Sprintf("transfer too slow: %d bytes in %v, below the minimum of %d bytes/s", e.Got, e.Window, e.Min)
}

// TimeLimitError reports a Get or Fetch that ran out of Client.MaxTime.
type TimeLimitError struct {
	Limit time.Duration
}

// Error says which limit was reached.
func (e *TimeLimitError) Error() string {
	return fmt.Sprintf("transfer not done within its time limit of %v", e.Limit)
}
