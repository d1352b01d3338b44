package daemon_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// module is the import path of the repository's root.
const module = "github.com/edgecam/edgecam"

// layers puts every package of the repository on a level. A package's code
// may import only packages on lower levels, so the dependencies run one way:
// capture knows nothing of streams, stream nothing of the daemon, and
// nothing but the commands and the test harness imports the daemon. Tests
// may import anything. A new package gets a level here.
var layers = map[string]int{
	"capture/redact":              0,
	"daemon/events":               0,
	"daemon/detections":           0,
	"daemon/procs":                0,
	"daemon/promtext":             0,
	"daemon/ratelimit":            0,
	"daemon/web":                  0,
	"stream/whepclient":           0,
	"stream/whep/wheptest":        0,
	"capture/onvif/onviftest":     0,
	"daemon/daemontest/netnstest": 1,
	"capture/testcamera":          0,
	"capture/testcamera/lowres":   0,
	"capture/testcamera/hevc":     0,
	"capture/testcamera/vision":   0,
	"daemon/e2e":                  0,
	"daemon/e2e/browser":          0,
	"daemon/e2e/fault":            0,
	"daemon/e2e/soak":             0,
	"daemon/e2e/netns":            0,
	"daemon/e2e/chromium":         0,

	"capture":       1,
	"capture/onvif": 1,
	"daemon/config": 1,

	"capture/discover": 2,
	"stream":           2,

	"stream/frames": 3,
	"stream/whep":   3,

	"daemon/auth":    4,
	"daemon/cameras": 4,

	"daemon/metrics": 5,

	"daemon/api": 6,

	"daemon": 7,

	"daemon/daemontest":                 8,
	"cmd/edgecam":                       8,
	"cmd/edgecam-bench":                 8,
	"capture/testcamera/cmd/testcamera": 8,
}

// goFiles calls f with every Go file of the module, parsed for its imports
// and comments, and its package's path relative to the module root.
func goFiles(t *testing.T, f func(path, pkg string, file *ast.File, fset *token.FileSet)) {
	t.Helper()
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "tools", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		f(path, filepath.ToSlash(rel), file, fset)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPackagesImportOnlyPackagesBelowThem(t *testing.T) {
	goFiles(t, func(path, pkg string, file *ast.File, _ *token.FileSet) {
		level, ok := layers[pkg]
		if !ok {
			t.Errorf("%s: package %s has no level in layers (layout_test.go): give it one", path, pkg)
			return
		}
		if strings.HasSuffix(path, "_test.go") {
			return
		}
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			dep, internal := strings.CutPrefix(p, module+"/")
			if !internal {
				continue
			}
			if l, ok := layers[dep]; !ok || l >= level {
				t.Errorf("%s: %s (level %d) imports %s (level %d): dependencies must point down", path, pkg, level, dep, l)
			}
		}
	})
}

func TestDaemonFilesAndFunctionsStaySmall(t *testing.T) {
	const maxFileLines, maxFuncLines = 300, 80
	goFiles(t, func(path, pkg string, file *ast.File, fset *token.FileSet) {
		if pkg != "daemon" && !strings.HasPrefix(pkg, "daemon/") {
			return
		}
		if n := fset.File(file.Pos()).LineCount(); n > maxFileLines {
			t.Errorf("%s has %d lines; split it (at most %d)", path, n, maxFileLines)
		}
		if strings.HasSuffix(path, "_test.go") {
			return // table-driven tests may run long
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s has %d lines; split it (at most %d)", path, fn.Name.Name, n, maxFuncLines)
			}
		}
	})
}

func TestEveryPackageSaysWhatItProvides(t *testing.T) {
	documented := map[string]bool{}
	seen := map[string]string{}
	goFiles(t, func(path, pkg string, file *ast.File, _ *token.FileSet) {
		if strings.HasSuffix(path, "_test.go") {
			return
		}
		seen[pkg] = path
		if file.Doc != nil && strings.HasPrefix(file.Doc.Text(), "Package "+file.Name.Name+" ") ||
			file.Doc != nil && file.Name.Name == "main" && strings.HasPrefix(file.Doc.Text(), "Command ") {
			documented[pkg] = true
		}
	})
	for pkg, path := range seen {
		if !documented[pkg] {
			t.Errorf("package %s (%s) has no package comment starting \"Package <name> \" (or \"Command \")", pkg, filepath.Dir(path))
		}
	}
}
