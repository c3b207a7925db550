package deploy

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// sdkServicePrefix is the import path prefix of the AWS SDK's service
// packages: github.com/aws/aws-sdk-go-v2/service/<svc>.
const sdkServicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// Call is one AWS operation the code references.
type Call struct {
	Service string // the SDK service package's name: "cloudwatchlogs"
	Op      string // the operation: "FilterLogEvents"
	Package string // import path of the package that references it
	Pos     string // file:line of the first reference, relative to the module root
}

// Action is the IAM action that authorizes the call, like
// "logs:FilterLogEvents".
func (c Call) Action() (string, error) {
	prefix, ok := iamPrefix[c.Service]
	if !ok {
		return "", fmt.Errorf("%s: no IAM prefix known for SDK service package %q (add it to iamPrefix)", c.Pos, c.Service)
	}
	if a, ok := actionOverride[c.Service+"."+c.Op]; ok {
		return a, nil
	}
	return prefix + ":" + c.Op, nil
}

// iamPrefix maps an SDK service package to its IAM service prefix and
// endpointService to its VPC endpoint service name. A service package
// missing here is an error, not a guess.
var (
	iamPrefix = map[string]string{
		"cloudwatchlogs": "logs",
		"cloudwatch":     "cloudwatch",
		"sns":            "sns",
		"sts":            "sts",
		"kms":            "kms",
		"s3":             "s3",
		"ssm":            "ssm",
		"secretsmanager": "secretsmanager",
		"ecr":            "ecr",
		"ecs":            "ecs",
		"sqs":            "sqs",
		"ec2":            "ec2",
	}
	endpointService = map[string]string{
		"cloudwatchlogs": "logs",
		"cloudwatch":     "monitoring",
		"sns":            "sns",
		"sts":            "sts",
		"kms":            "kms",
		"s3":             "s3",
		"ssm":            "ssm",
		"secretsmanager": "secretsmanager",
		"ecr":            "ecr.api",
		"ecs":            "ecs",
		"sqs":            "sqs",
		"ec2":            "ec2",
	}
	// actionOverride lists the operations whose IAM action is not
	// "<prefix>:<operation>".
	actionOverride = map[string]string{
		"sns.PublishBatch": "sns:Publish",
		// SQS authorizes a batch action by its single action's permission
		// (there is no sqs:ChangeMessageVisibilityBatch in IAM).
		"sqs.ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
		"sqs.DeleteMessageBatch":           "sqs:DeleteMessage",
		"s3.ListObjectsV2":                 "s3:ListBucket",
		"s3.HeadObject":                    "s3:GetObject",
		"s3.HeadBucket":                    "s3:ListBucket",
	}
)

// EndpointService is the VPC endpoint service name ("logs", "monitoring")
// through which calls of the SDK service package svc travel.
func EndpointService(svc string) (string, error) {
	e, ok := endpointService[svc]
	if !ok {
		return "", fmt.Errorf("no VPC endpoint service known for SDK service package %q (add it to endpointService)", svc)
	}
	return e, nil
}

// Calls are the AWS operations found in a module, split by who makes them.
type Calls struct {
	// Daemon are the calls in the packages the daemon (secwatch run)
	// consists of: the daemon root packages and every package of the
	// module they import, directly or not.
	Daemon []Call
	// Operator are the calls in every other package of the module: the
	// commands an operator runs (secwatch alarms), not the task.
	Operator []Call
}

// Collect parses every non-test Go file of the module rooted at root (the
// directory holding go.mod) and returns the AWS operations it references,
// by input or output type or paginator. daemonRoots are module-relative
// package directories ("internal/daemon") whose own calls and those of every
// module package they import are Daemon calls; a root written with a
// trailing "!" ("cmd/secwatch!") contributes only its own calls. Testdata,
// vendor, hidden directories and nested modules are skipped. What is found
// and what is not: docs/deploy.md ("What the task may do, and how that
// stays true").
func Collect(root string, daemonRoots []string) (Calls, error) {
	modPath, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return Calls{}, err
	}
	pkgs := map[string]*pkgInfo{} // by import path
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", rel, err)
		}
		dir := path.Dir(rel)
		ip := modPath
		if dir != "." {
			ip = modPath + "/" + dir
		}
		pi := pkgs[ip]
		if pi == nil {
			pi = &pkgInfo{dir: dir, imports: map[string]bool{}}
			pkgs[ip] = pi
		}
		pi.calls = append(pi.calls, fileCalls(fset, f, rel, ip)...)
		for _, im := range f.Imports {
			v, _ := strconv.Unquote(im.Path.Value)
			if v == modPath || strings.HasPrefix(v, modPath+"/") {
				pi.imports[v] = true
			}
		}
		return nil
	})
	if err != nil {
		return Calls{}, err
	}

	daemon := map[string]bool{}
	var visit func(ip string)
	visit = func(ip string) {
		if daemon[ip] {
			return
		}
		daemon[ip] = true
		if pi := pkgs[ip]; pi != nil {
			for im := range pi.imports {
				visit(im)
			}
		}
	}
	for _, r := range daemonRoots {
		own := strings.HasSuffix(r, "!")
		r = strings.TrimSuffix(r, "!")
		ip := modPath
		if r != "." && r != "" {
			ip = modPath + "/" + r
		}
		if pkgs[ip] == nil {
			return Calls{}, fmt.Errorf("daemon root %q: no Go package in %s", r, filepath.Join(root, r))
		}
		if own {
			daemon[ip] = true
			continue
		}
		visit(ip)
	}

	var out Calls
	for ip, pi := range pkgs {
		if daemon[ip] {
			out.Daemon = append(out.Daemon, pi.calls...)
		} else {
			out.Operator = append(out.Operator, pi.calls...)
		}
	}
	out.Daemon = dedupe(out.Daemon)
	out.Operator = dedupe(out.Operator)
	return out, nil
}

type pkgInfo struct {
	dir     string
	imports map[string]bool // module packages only
	calls   []Call
}

// fileCalls finds the operation references of one file.
func fileCalls(fset *token.FileSet, f *ast.File, rel, ip string) []Call {
	svcByName := map[string]string{} // local import name -> service package
	for _, im := range f.Imports {
		v, _ := strconv.Unquote(im.Path.Value)
		rest, ok := strings.CutPrefix(v, sdkServicePrefix)
		if !ok || strings.Contains(rest, "/") {
			continue // not a service root package (types, internal, …)
		}
		name := rest
		if im.Name != nil {
			name = im.Name.Name
		}
		if name == "_" || name == "." {
			continue
		}
		svcByName[name] = rest
	}
	if len(svcByName) == 0 {
		return nil
	}
	var calls []Call
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		svc, ok := svcByName[id.Name]
		if !ok {
			return true
		}
		name := sel.Sel.Name
		var op string
		switch {
		case strings.HasSuffix(name, "Input") && len(name) > len("Input"):
			op = strings.TrimSuffix(name, "Input")
		case strings.HasSuffix(name, "Output") && len(name) > len("Output"):
			op = strings.TrimSuffix(name, "Output")
		case strings.HasPrefix(name, "New") && strings.HasSuffix(name, "Paginator"):
			op = strings.TrimSuffix(strings.TrimPrefix(name, "New"), "Paginator")
		}
		if op == "" || !ast.IsExported(op) {
			return true
		}
		calls = append(calls, Call{Service: svc, Op: op, Package: ip,
			Pos: fmt.Sprintf("%s:%d", rel, fset.Position(sel.Pos()).Line)})
		return true
	})
	return calls
}

// dedupe keeps the first reference (by position) of each operation, sorted
// by service and operation.
func dedupe(calls []Call) []Call {
	sort.Slice(calls, func(i, j int) bool {
		a, b := calls[i], calls[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Pos < b.Pos
	})
	return slices.CompactFunc(calls, func(a, b Call) bool { return a.Service == b.Service && a.Op == b.Op })
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}
