// Command pkg builds berth's Debian packages with nfpm (as a Go module):
//
//	berth-dockd      arm64, armhf   dockd and dockctl, the dockd unit with its
//	                                watchdog, the udev rule, board files
//	berth-collector  amd64, arm64   the collector (as berth-collector), its
//	                                unit with its watchdog
//
// Both run as the system user berth (made by preinst), keep their keys in
// /etc/berth (0750 root:berth; keys 0600 berth, fixed by postinst) and
// their state in /var/lib/berth or /var/lib/berth-collector (0750 berth).
// Binaries are cross-built here with CGO_ENABLED=0. Run from anywhere in
// the repository:
//
//	go run ./deploy/pkg [--out dist/deb] [--version 1.2.0] [--only berth-dockd] [--arch arm64]
//
// It prints the path of every package it wrote.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// spec is one package.
type spec struct {
	Name        string
	Description string
	Arches      []string // nfpm's names: arm64, arm7 (armhf), amd64
	Bins        map[string]string
	Files       []file
	Dirs        []file
	Scripts     string // prefix of deploy/pkg/scripts/<prefix>-{preinst,postinst,prerm,postrm}
	Recommends  []string
}

// file is a file or directory of a package; Src is relative to the
// repository's root (globs allowed), Dst absolute.
type file struct {
	Src, Dst, Type string
	Mode           os.FileMode
	Owner, Group   string
}

var specs = []spec{{
	Name: "berth-dockd",
	Description: "berth dock agent for body-worn recorder docking stations\n" +
		"dockd copies footage off docked recorders into an encrypted buffer, uploads it\n" +
		"to the berth collector and frees it only with the collector's signed receipt;\n" +
		"dockctl is the custodian's tool (status, slots, backlog, selftest).",
	Arches:  []string{"arm64", "arm7"},
	Bins:    map[string]string{"dockd": "/usr/bin/dockd", "dockctl": "/usr/bin/dockctl"},
	Scripts: "dockd",
	Files: []file{
		{Src: "deploy/pi/dockd.service", Dst: "/lib/systemd/system/dockd.service", Mode: 0o644},
		{Src: "deploy/pi/99-berth-recorders.rules", Dst: "/lib/udev/rules.d/99-berth-recorders.rules", Mode: 0o644},
		{Src: "deploy/pi/dockd.yaml", Dst: "/etc/berth/dockd.yaml", Type: "config|noreplace", Mode: 0o640, Group: "berth"},
		{Src: "deploy/boards/rpi4-4slot.yaml", Dst: "/usr/share/berth/boards/rpi4-4slot.yaml", Mode: 0o644},
		{Src: "deploy/boards/rpi5-4slot.yaml", Dst: "/usr/share/berth/boards/rpi5-4slot.yaml", Mode: 0o644},
		{Src: "deploy/boards/sim-4slot.yaml", Dst: "/usr/share/berth/boards/sim-4slot.yaml", Mode: 0o644},
		// Inactive: only docks with legacy mass-storage slots grant dockd
		// CAP_SYS_ADMIN, by copying it into dockd.service.d (boards.md).
		{Src: "deploy/pi/dockd-mass-storage.conf", Dst: "/usr/share/berth/systemd/dockd-mass-storage.conf", Mode: 0o644},
		{Src: "deploy/boards/README.md", Dst: "/usr/share/doc/berth-dockd/boards.md", Mode: 0o644},
		{Src: "deploy/pi/LEDS.md", Dst: "/usr/share/doc/berth-dockd/LEDS.md", Mode: 0o644},
		{Src: "README.md", Dst: "/usr/share/doc/berth-dockd/README.md", Mode: 0o644},
	},
	Dirs: []file{
		{Dst: "/etc/berth", Mode: 0o750, Group: "berth"},
		{Dst: "/var/lib/berth", Mode: 0o750, Owner: "berth", Group: "berth"},
	},
}, {
	Name: "berth-collector",
	Description: "berth collector for body-worn recorder docks\n" +
		"Takes the docks' uploads and reports, issues signed receipts once the evidence\n" +
		"store holds the footage, rebuilds timelines and alerts supervisors.",
	Arches:     []string{"amd64", "arm64"},
	Bins:       map[string]string{"collector": "/usr/bin/berth-collector"},
	Scripts:    "collector",
	Recommends: []string{"ffmpeg"},
	Files: []file{
		{Src: "deploy/cloud/collector.service", Dst: "/lib/systemd/system/berth-collector.service", Mode: 0o644},
		{Src: "deploy/cloud/collector.yaml", Dst: "/etc/berth/collector.yaml", Type: "config|noreplace", Mode: 0o640, Group: "berth"},
		{Src: "deploy/cloud/mosquitto.conf", Dst: "/usr/share/doc/berth-collector/examples/mosquitto.conf", Mode: 0o644},
		{Src: "deploy/cloud/acl", Dst: "/usr/share/doc/berth-collector/examples/acl", Mode: 0o644},
		{Src: "README.md", Dst: "/usr/share/doc/berth-collector/README.md", Mode: 0o644},
	},
	Dirs: []file{
		{Dst: "/etc/berth", Mode: 0o750, Group: "berth"},
		{Dst: "/var/lib/berth-collector", Mode: 0o750, Owner: "berth", Group: "berth"},
	},
}}

// debArch is Debian's name of an nfpm architecture.
func debArch(a string) string {
	if a == "arm7" {
		return "armhf"
	}
	return a
}

func main() {
	fs := flag.NewFlagSet("pkg", flag.ContinueOnError)
	out := fs.String("out", "dist/deb", "directory the packages are written to (relative to the repository's root)")
	version := fs.String("version", "0.0.0~dev", "package version (Debian syntax)")
	only := fs.String("only", "", "build only this package (berth-dockd or berth-collector)")
	arch := fs.String("arch", "", "build only this Debian architecture (arm64, armhf, amd64)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkg:", err)
		os.Exit(1)
	}
	if !filepath.IsAbs(*out) {
		*out = filepath.Join(root, *out)
	}
	paths, err := Build(Opts{Root: root, Out: *out, Version: *version, Only: *only, Arch: *arch, Log: os.Stderr})
	for _, p := range paths {
		fmt.Println(p)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkg:", err)
		os.Exit(1)
	}
}

// repoRoot is the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the repository (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// Opts says what Build builds.
type Opts struct {
	Root, Out, Version string
	Only, Arch         string // "": all
	Log                io.Writer
}

// ErrNothing is returned when Only and Arch match no package.
var ErrNothing = errors.New("pkg: no package matches --only and --arch")

// Build cross-builds the binaries and writes the packages into o.Out,
// returning their paths.
func Build(o Opts) ([]string, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Version == "" {
		return nil, errors.New("pkg: empty version")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, s := range specs {
		if o.Only != "" && o.Only != s.Name {
			continue
		}
		for _, a := range s.Arches {
			if o.Arch != "" && o.Arch != debArch(a) {
				continue
			}
			p, err := buildOne(o, s, a)
			if err != nil {
				return paths, fmt.Errorf("%s %s: %w", s.Name, debArch(a), err)
			}
			fmt.Fprintf(o.Log, "pkg: wrote %s\n", p)
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, ErrNothing
	}
	return paths, nil
}

func buildOne(o Opts, s spec, arch string) (string, error) {
	stage, err := os.MkdirTemp("", "berth-pkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)

	var contents files.Contents
	cmds := slices.Sorted(func(yield func(string) bool) {
		for c := range s.Bins {
			if !yield(c) {
				return
			}
		}
	})
	for _, cmd := range cmds {
		bin := filepath.Join(stage, cmd)
		if err := goBuild(o, cmd, arch, bin); err != nil {
			return "", err
		}
		contents = append(contents, &files.Content{Source: bin, Destination: s.Bins[cmd],
			FileInfo: &files.ContentFileInfo{Mode: 0o755, Owner: "root", Group: "root"}})
	}
	for _, f := range s.Files {
		src := filepath.Join(o.Root, f.Src)
		if _, err := os.Stat(src); err != nil {
			return "", err
		}
		contents = append(contents, &files.Content{Source: src, Destination: f.Dst, Type: f.Type, FileInfo: fileInfo(f)})
	}
	for _, d := range s.Dirs {
		contents = append(contents, &files.Content{Destination: d.Dst, Type: "dir", FileInfo: fileInfo(d)})
	}
	script := func(kind string) string {
		return filepath.Join(o.Root, "deploy", "pkg", "scripts", s.Scripts+"-"+kind)
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          s.Name,
		Arch:          arch,
		Platform:      "linux",
		Version:       o.Version,
		VersionSchema: "none",
		Section:       "misc",
		Priority:      "optional",
		Maintainer:    "berth maintainers <berth@berthdock.invalid>",
		Description:   s.Description,
		Homepage:      "https://github.com/berthdock/berth",
		License:       "Proprietary",
		Overridables: nfpm.Overridables{
			Contents:   contents,
			Recommends: s.Recommends,
			Scripts: nfpm.Scripts{PreInstall: script("preinst"), PostInstall: script("postinst"),
				PreRemove: script("prerm"), PostRemove: script("postrm")},
		},
	})
	if err := info.Validate(); err != nil {
		return "", err
	}
	path := filepath.Join(o.Out, deb.Default.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return path, f.Close()
}

func fileInfo(f file) *files.ContentFileInfo {
	owner, group := f.Owner, f.Group
	if owner == "" {
		owner = "root"
	}
	if group == "" {
		group = "root"
	}
	return &files.ContentFileInfo{Mode: f.Mode, Owner: owner, Group: group}
}

// goBuild cross-builds ./cmd/<cmd> for linux/arch into bin: pure Go
// (CGO_ENABLED=0), with the package version in main.version.
func goBuild(o Opts, cmd, arch, bin string) error {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	c := exec.Command(goBin, "build", "-ldflags", "-X main.version="+o.Version, "-o", bin, "./cmd/"+cmd)
	c.Dir = o.Root
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	switch arch {
	case "arm7":
		env = append(env, "GOARCH=arm", "GOARM=7")
	default:
		env = append(env, "GOARCH="+arch)
	}
	c.Env = env
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/%s (%s): %v\n%s", cmd, arch, err, strings.TrimSpace(string(b)))
	}
	return nil
}
