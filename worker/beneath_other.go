//go:build !linux

package worker

import (
	"errors"
	"os"
)

// openRegularBeneath needs openat2, which only Linux has: elsewhere every
// path input is opened the careful way.
func openRegularBeneath(dir *os.File, rel string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

func unsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
