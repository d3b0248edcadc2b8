package mr

import "time"

// EncodedSize exposes encodedSize to the tests of package mr_test.
func EncodedSize(s *JobSpec) int { return s.encodedSize() }

// SetPlacementWait sets how long OpenWait lets a cluster come up before
// it judges it too small, until the test ends.
func SetPlacementWait(t interface{ Cleanup(func()) }, d time.Duration) {
	was := placementWait
	placementWait = d
	t.Cleanup(func() { placementWait = was })
}
