package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the line --version prints: the binary's name, the module's
// version, and the VCS revision and time it was built from, as the Go
// toolchain stamped them (`go build` stamps them; `go run` does not).
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (unknown version) " + runtime.Version()
	}
	return versionLine(name, bi)
}

func versionLine(name string, bi *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	parts := []string{name, bi.Main.Version}
	if rev := settings["vcs.revision"]; rev != "" {
		rev = rev[:min(len(rev), 12)]
		if settings["vcs.modified"] == "true" {
			rev += "+modified"
		}
		parts = append(parts, "rev "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, t)
	}
	return fmt.Sprintf("%s %s", strings.Join(parts, " "), bi.GoVersion)
}

func stack() []byte { return debug.Stack() }
