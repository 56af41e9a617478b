package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion describes a build: its module version, VCS commit and Go
// version, as the Go toolchain stamped them into the binary.
type buildVersion struct {
	Version  string // module version, "devel" for a build from a source tree
	Commit   string // VCS revision, "" when the build has none (go run, go test)
	Time     string // commit time (RFC 3339), or ""
	Modified bool   // the tree had uncommitted changes
	Go       string // Go version, such as go1.26.0
	Platform string // GOOS/GOARCH
}

// readBuildVersion extracts the build's description from bi (nil: unknown).
func readBuildVersion(bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one line glassbox --version prints.
func (v buildVersion) String() string {
	commit := "commit unknown (built without version control information)"
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		commit = "commit " + c
		switch {
		case v.Modified && v.Time != "":
			commit += " (" + v.Time + ", with uncommitted changes)"
		case v.Modified:
			commit += " (with uncommitted changes)"
		case v.Time != "":
			commit += " (" + v.Time + ")"
		}
	}
	return fmt.Sprintf("glassbox version %s, %s, built with %s for %s", v.Version, commit, v.Go, v.Platform)
}

// versionString describes the running binary.
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return readBuildVersion(bi).String()
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return err
		},
	}
}
