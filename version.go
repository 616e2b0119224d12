package latchkey

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version, Commit and Date describe the build. A release sets them with
//
//	-ldflags "-X github.com/latchkeyhq/latchkey.Version=v0.3.0 -X github.com/latchkeyhq/latchkey.Commit=abc1234 -X github.com/latchkeyhq/latchkey.Date=2026-11-30T05:00:00Z"
//
// Left empty, they are read from the build information the Go toolchain records: the module version
// (from 'go install ...@version', or a studio's go.mod), and, when Latchkey itself is the main module built
// from a git checkout, the commit and its time. They must stay string variables without an initializer
// other than a constant, or -X stops setting them.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// modulePath is Latchkey's module, looked up in the build information.
const modulePath = "github.com/latchkeyhq/latchkey"

// build is what 'latchkey version' prints.
type build struct {
	version, commit, date string
}

// currentBuild returns the stamped values, with the build information filling in what was not stamped.
func currentBuild() build {
	info, ok := debug.ReadBuildInfo()
	return buildOf(Version, Commit, Date, info, ok)
}

// buildOf fills in the stamped version, commit and date from info: the version of Latchkey's module, and
// the commit (short, "-dirty" when the tree had changes) and commit time when Latchkey is the main module.
// A studio's binary records its own commit, not Latchkey's, so that is not used. What is still unknown
// reads "dev" for the version and "unknown" for the rest.
func buildOf(version, commit, date string, info *debug.BuildInfo, ok bool) build {
	b := build{version, commit, date}
	if ok && info != nil {
		mod := &info.Main
		if mod.Path != modulePath {
			mod = nil
			for _, d := range info.Deps {
				if d.Path == modulePath {
					mod = d
					if d.Replace != nil && d.Replace.Version != "" {
						mod = d.Replace
					}
					break
				}
			}
		}
		if b.version == "" && mod != nil && mod.Version != "" && mod.Version != "(devel)" {
			b.version = mod.Version
		}
		if info.Main.Path == modulePath {
			var revision, modified, at string
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					revision = s.Value
				case "vcs.modified":
					modified = s.Value
				case "vcs.time":
					at = s.Value
				}
			}
			if b.commit == "" && revision != "" {
				b.commit = revision[:min(len(revision), 7)]
				if modified == "true" {
					b.commit += "-dirty"
				}
			}
			if b.date == "" {
				b.date = at
			}
		}
	}
	if b.version == "" {
		b.version = "dev"
	}
	if b.commit == "" {
		b.commit = "unknown"
	}
	if b.date == "" {
		b.date = "unknown"
	}
	return b
}

// String is the line 'latchkey version' prints, such as
// "latchkey v0.3.0 (commit abc1234, built 2026-11-30T05:00:00Z, go1.26.8 linux/amd64)".
func (b build) String() string {
	return fmt.Sprintf("latchkey %s (commit %s, built %s, %s %s/%s)", b.version, b.commit, b.date,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
