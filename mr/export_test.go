package mr

// EncodedSize exposes encodedSize to the tests of package mr_test.
func EncodedSize(s *JobSpec) int { return s.encodedSize() }
