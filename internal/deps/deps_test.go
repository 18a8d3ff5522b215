// Package deps holds the tests that keep Causeway's dependency rules
// (shared/DESIGN.md §4) from eroding: they fail the build's tests when a
// package imports what it must not.
package deps

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/causeway-ai/causeway"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func list(t *testing.T, patterns ...string) map[string]pkg {
	t.Helper()
	args := append([]string{"list", "-json=ImportPath,Imports,Deps"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	pkgs := map[string]pkg{}
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func internal(path string) string { return strings.TrimPrefix(path, module+"/internal/") }

func TestDependencyRules(t *testing.T) {
	pkgs := list(t, "./...")
	for path, p := range pkgs {
		name := internal(path)
		for _, imp := range p.Imports {
			in := internal(imp)
			isOurs := strings.HasPrefix(imp, module+"/")
			switch {
			case name == "llm" && isOurs:
				t.Errorf("llm imports %s: the canonical model imports nothing of ours", imp)
			case strings.HasPrefix(name, "frontdoor/") && strings.HasPrefix(in, "provider/"):
				t.Errorf("%s imports %s: doors and providers meet only in llm, through gateway", name, in)
			case strings.HasPrefix(name, "provider/") && (strings.HasPrefix(in, "frontdoor/") || in == "gateway"):
				t.Errorf("%s imports %s: a provider knows no door and no gateway", name, in)
			case strings.HasPrefix(name, "sim") && (strings.HasPrefix(in, "frontdoor") || strings.HasPrefix(in, "provider") || in == "gateway"):
				t.Errorf("%s imports %s: the simulator shares wire types only, never translation logic", name, in)
			case name == "store" && (imp == "net/http" || strings.HasPrefix(in, "frontdoor") || in == "gateway"):
				t.Errorf("store imports %s: the store knows no HTTP", imp)
			case (strings.HasPrefix(name, "frontdoor/") || strings.HasPrefix(name, "provider/") || strings.HasPrefix(name, "route")) &&
				(imp == "database/sql" || in == "store"):
				t.Errorf("%s imports %s: doors, providers and routing know no SQL", name, imp)
			}
		}
	}
}

// TestBinaryLinksNoSDKOrTestHelper keeps provider SDKs (used only as test
// clients) and test helpers out of the causeway binary.
func TestBinaryLinksNoSDKOrTestHelper(t *testing.T) {
	pkgs := list(t, "./cmd/causeway")
	bin := pkgs[module+"/cmd/causeway"]
	if len(bin.Deps) == 0 {
		t.Fatal("go list gave no dependencies for cmd/causeway")
	}
	forbidden := []string{
		"github.com/openai/openai-go",
		"github.com/anthropics/anthropic-sdk-go",
		"github.com/aws/aws-sdk-go-v2/service/",
		"google.golang.org/genai",
		"testing",
		module + "/internal/server/servertest",
		module + "/internal/store/storetest",
		"github.com/tsenart/vegeta",
	}
	for _, d := range bin.Deps {
		for _, f := range forbidden {
			hit := d == f || strings.HasPrefix(d, f+"/")
			if strings.HasSuffix(f, "/") {
				hit = strings.HasPrefix(d, f)
			}
			if hit {
				t.Errorf("the causeway binary links %s", d)
			}
		}
	}
}
