package tasks

import (
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// A server's stop waits for its pulls to expire: keep them short, so
	// that each test's cleanup is quick.
	pullExpiry = time.Second
	os.Exit(m.Run())
}
