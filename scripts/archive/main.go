// Command archive writes the archives and checksum file of scripts/release, byte for byte the same on
// every machine: entries in name order, a fixed modification time, no owner names, and only two file
// modes (0755 for executables, 0644 for the rest). It is Go rather than tar and zip so that a release
// needs nothing but the Go toolchain, and so that GNU and BSD tar cannot make two builds differ.
//
//	archive -o OUT.tar.gz|OUT.zip [-mtime UNIX_SECONDS] DIR   DIR, under its own name, into OUT
//	archive -sums DIR                                        DIR/SHA256SUMS for every other file in DIR
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "the archive to write: NAME.tar.gz or NAME.zip")
	mtime := flag.Int64("mtime", 0, "modification time of every entry, in Unix seconds (SOURCE_DATE_EPOCH)")
	sums := flag.Bool("sums", false, "write DIR/SHA256SUMS instead of an archive")
	flag.Parse()
	if flag.NArg() != 1 || (*out == "") == !*sums {
		fmt.Fprintln(os.Stderr, "usage: archive -o OUT.tar.gz|OUT.zip [-mtime SECONDS] DIR | archive -sums DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	var err error
	if *sums {
		err = writeSums(dir)
	} else {
		err = writeArchive(*out, dir, time.Unix(*mtime, 0).UTC())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(1)
	}
}

// entry is one file or directory of an archive.
type entry struct {
	name string // slash-separated, starting with the archived directory's base name
	path string // on disk
	dir  bool
	mode int64
}

// entries lists dir and everything under it in name order.
func entries(dir string) ([]entry, error) {
	base := filepath.Base(dir)
	var list []entry
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join(base, rel))
		switch {
		case d.IsDir():
			list = append(list, entry{name: name + "/", path: path, dir: true, mode: 0o755})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := int64(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			list = append(list, entry{name: name, path: path, mode: mode})
		default:
			return fmt.Errorf("%s: only regular files and directories can be archived", path)
		}
		return nil
	})
	return list, err
}

func writeArchive(out, dir string, mtime time.Time) (err error) {
	list, err := entries(dir)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	switch {
	case strings.HasSuffix(out, ".tar.gz"):
		return writeTarGz(f, list, mtime)
	case strings.HasSuffix(out, ".zip"):
		return writeZip(f, list, mtime)
	}
	return fmt.Errorf("%s: the name must end in .tar.gz or .zip", out)
}

func writeTarGz(w io.Writer, list []entry, mtime time.Time) error {
	// A zero gzip header (no name, no time) keeps the compressed bytes a function of the tar bytes alone.
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, e := range list {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, ModTime: mtime, Format: tar.FormatPAX}
		if e.dir {
			hdr.Typeflag = tar.TypeDir
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(e.path)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return errors.Join(tw.Close(), zw.Close())
}

func writeZip(w io.Writer, list []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range list {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		mode := fs.FileMode(e.mode)
		if e.dir {
			hdr.Method = zip.Store
			mode |= fs.ModeDir
		}
		hdr.SetMode(mode)
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if e.dir {
			continue
		}
		data, err := os.ReadFile(e.path)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// writeSums writes dir/SHA256SUMS in the format sha256sum -c reads: "HEX  NAME" per file, in name order
// (os.ReadDir's order).
func writeSums(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, de := range des {
		if !de.Type().IsRegular() || de.Name() == "SHA256SUMS" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), de.Name())
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
