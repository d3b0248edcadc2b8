package rpcq

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDeadlineContextReleased: a context derived from a handler's, still
// running when the handler returns, ends with context.Canceled, and the
// context package, which reads the parent's Err once its Done closes,
// finds an error there.
func TestDeadlineContextReleased(t *testing.T) {
	for _, asked := range []bool{false, true} { // Done asked for before the release, or not
		c := &deadlineContext{Context: context.Background(), deadline: time.Now().Add(time.Hour)}
		if asked {
			c.Done()
		}
		child, cancel := context.WithTimeout(c, time.Hour)
		c.release()
		select {
		case <-child.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("Done asked before release %v: the derived context did not end with its parent", asked)
		}
		cancel()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Done asked before release %v: Err after release = %v, want context.Canceled", asked, err)
		}
	}
}
