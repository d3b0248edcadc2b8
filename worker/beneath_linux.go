package worker

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errNotRegular is openRegularBeneath's error for anything but a regular
// file.
var errNotRegular = errors.New("not a regular file")

// openRegularBeneath opens rel, a clean relative path, for reading beneath
// dir, if it is a regular file: the kernel resolves it (openat2 with
// RESOLVE_BENEATH) and fails it if it, or a symlink on its way, leads out
// of dir or is absolute. What it names is looked at first, so that a
// device or FIFO is not opened; that look follows symlinks wherever they
// lead, as the careful way's resolving them does, but only the confined
// open reads anything. It opens without blocking, so that a FIFO put in
// the file's place meanwhile cannot hold the task (the caller checks what
// it opened).
func openRegularBeneath(dir *os.File, rel string) (*os.File, error) {
	rc, err := dir.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	// Control holds dir's descriptor open until it returns, even if dir
	// is closed meanwhile.
	cerr := rc.Control(func(dfd uintptr) {
		var st unix.Stat_t
		if err = unix.Fstatat(int(dfd), rel, &st, 0); err != nil {
			return
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			err = errNotRegular
			return
		}
		how := unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		}
		fd, err = openat2(int(dfd), rel, &how)
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), rel), nil
}

func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, path, how)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// unsupported reports whether openRegularBeneath's err says that the
// kernel has no openat2 (before Linux 5.6), or a sandbox forbids it.
func unsupported(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM)
}
