package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	templatePath = "cloudformation/secwatch.yaml"
	moduleRoot   = ".."
)

// daemonRoots are what the ECS task runs, secwatch run: the daemon package
// and everything it imports, and the command package's own code (it builds
// the SDK clients) without the operator commands' packages it also imports.
var daemonRoots = []string{"internal/daemon", "cmd/secwatch!"}

func loadTemplate(t *testing.T) *Template {
	t.Helper()
	tpl, err := ParseTemplateFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func collect(t *testing.T) Calls {
	t.Helper()
	calls, err := Collect(moduleRoot, daemonRoots)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls.Daemon) == 0 {
		t.Fatal("no AWS call found in the daemon's code: the collector is broken")
	}
	return calls
}

func resource(t *testing.T, tpl *Template, name, typ string) Resource {
	t.Helper()
	r, ok := tpl.Resources[name]
	if !ok {
		t.Fatalf("template has no resource %s", name)
	}
	if r.Type != typ {
		t.Fatalf("%s: got type %s, want %s", name, r.Type, typ)
	}
	return r
}

// refTo tells whether v is {"Ref": name}.
func refTo(v any, name string) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == name
}

func render(v any) string { return fmt.Sprint(v) }

// TestTaskPolicyMatchesCode: the task role grants exactly the AWS actions the
// daemon's code calls (plus what a call implies, like KMS for an encrypted
// topic), each scoped.
func TestTaskPolicyMatchesCode(t *testing.T) {
	tpl := loadTemplate(t)
	calls := collect(t)
	for _, c := range calls.Daemon {
		t.Logf("daemon calls %s.%s at %s", c.Service, c.Op, c.Pos)
	}
	p := resource(t, tpl, "TaskApiPolicy", "AWS::IAM::Policy")
	stmts := Statements(p.Properties["PolicyDocument"])
	d, err := CompareActions(stmts, calls.Daemon)
	if err != nil {
		t.Fatal(err)
	}
	if !d.OK() {
		t.Errorf("TaskApiPolicy does not match the daemon's AWS calls:\n%s", d)
	}
	checkScoped(t, "TaskApiPolicy", stmts)
}

// TestOperatorPolicyMatchesCode: the operator commands' calls (secwatch
// alarms …) are granted by a managed policy attached to nothing in the
// stack, for the operator's or the pipeline's role, never to the task.
func TestOperatorPolicyMatchesCode(t *testing.T) {
	tpl := loadTemplate(t)
	calls := collect(t)
	r, ok := tpl.Resources["OperatorPolicy"]
	if len(calls.Operator) == 0 {
		if ok {
			t.Fatal("OperatorPolicy grants actions but no operator command calls AWS")
		}
		return
	}
	for _, c := range calls.Operator {
		t.Logf("operator commands call %s.%s at %s", c.Service, c.Op, c.Pos)
	}
	if !ok {
		t.Fatalf("operator commands call AWS (%s.%s at %s, …) but the template has no OperatorPolicy",
			calls.Operator[0].Service, calls.Operator[0].Op, calls.Operator[0].Pos)
	}
	if r.Type != "AWS::IAM::ManagedPolicy" {
		t.Fatalf("OperatorPolicy: got type %s, want AWS::IAM::ManagedPolicy", r.Type)
	}
	for _, k := range []string{"Roles", "Users", "Groups"} {
		if _, ok := r.Properties[k]; ok {
			t.Errorf("OperatorPolicy: %s is set; it must be attached outside the stack, never to the task", k)
		}
	}
	stmts := Statements(r.Properties["PolicyDocument"])
	d, err := CompareActions(stmts, calls.Operator)
	if err != nil {
		t.Fatal(err)
	}
	if !d.OK() {
		t.Errorf("OperatorPolicy does not match the operator commands' AWS calls:\n%s", d)
	}
	checkScoped(t, "OperatorPolicy", stmts)
}

// scopes says, for each action, what its resources must be. An action
// granted without an entry here fails the test: whoever adds a call decides
// its scope.
var scopes = map[string]func(res []any, cond map[string]any) string{
	"logs:FilterLogEvents": func(res []any, _ map[string]any) string {
		return eachContains(res, "log-group:${McpLogGroupName}:*", "log-group:${AlbLogGroupName}:*")
	},
	"logs:DescribeLogGroups": func(res []any, _ map[string]any) string {
		return eachContains(res, ":log-group:*")
	},
	"logs:PutMetricFilter":    logGroupsOnly,
	"logs:DeleteMetricFilter": logGroupsOnly,
	"logs:DescribeMetricFilters": func(res []any, _ map[string]any) string {
		return eachContains(res, ":log-group:*") // the audit reads the region's filters
	},
	"sns:Publish":               topicOnly,
	"sns:GetTopicAttributes":    topicOnly,
	"kms:GenerateDataKey":       topicKeyViaSNS,
	"kms:Decrypt":               topicKeyViaSNS,
	"cloudwatch:PutMetricAlarm": alarmsOnly,
	"cloudwatch:DeleteAlarms":   alarmsOnly,
	"cloudwatch:TagResource":    alarmsOnly,
	// Reads: the audit looks at every alarm of the region, not only secwatch's.
	"cloudwatch:DescribeAlarms":      anyAlarm,
	"cloudwatch:ListTagsForResource": anyAlarm,
	"cloudwatch:ListMetrics": func(res []any, _ map[string]any) string {
		return eachContains(res, "*") // no resource-level permission exists
	},
	"s3:GetObject": func(res []any, _ map[string]any) string {
		return eachContains(res, ":s3:::${AlbLogBucket}/${AlbLogPrefix}*")
	},
	"s3:ListBucket": func(res []any, cond map[string]any) string {
		if !strings.Contains(render(cond), "s3:prefix") {
			return "needs an s3:prefix condition"
		}
		return eachContains(res, ":s3:::${AlbLogBucket}")
	},
	"sqs:ReceiveMessage":          albQueueOnly,
	"sqs:DeleteMessage":           albQueueOnly,
	"sqs:ChangeMessageVisibility": albQueueOnly,
	"cloudwatch:PutMetricData": func(res []any, cond map[string]any) string {
		if !strings.Contains(render(cond), "cloudwatch:namespace:map[Ref:MetricNamespace]") || eachContains(res, "*") != "" {
			return "needs a cloudwatch:namespace condition (it has no resource-level permission)"
		}
		return ""
	},
}

func logGroupsOnly(res []any, _ map[string]any) string {
	return eachContains(res, "log-group:${McpLogGroupName}", "log-group:${AlbLogGroupName}")
}

func albQueueOnly(res []any, _ map[string]any) string {
	created := render(map[string]any{"Fn::GetAtt": []any{"AlbLogQueue", "Arn"}})
	for _, r := range res {
		if !refTo(r, "AlbLogQueueArn") && render(r) != created {
			return fmt.Sprintf("resource %s is neither the AlbLogQueueArn parameter nor the AlbLogQueue", render(r))
		}
	}
	return ""
}

func anyAlarm(res []any, _ map[string]any) string {
	return eachContains(res, ":alarm:*")
}

func alarmsOnly(res []any, _ map[string]any) string {
	return eachContains(res, ":alarm:secwatch-*")
}

func topicOnly(res []any, _ map[string]any) string {
	for _, r := range res {
		if !refTo(r, "Topic") && !refTo(r, "TopicArn") {
			return fmt.Sprintf("resource %s is not the alert topic", render(r))
		}
	}
	return ""
}

func topicKeyViaSNS(res []any, cond map[string]any) string {
	for _, r := range res {
		if !refTo(r, "TopicKmsKeyArn") && render(r) != render(map[string]any{"Fn::GetAtt": []any{"TopicKey", "Arn"}}) {
			return fmt.Sprintf("resource %s is not the topic's key", render(r))
		}
	}
	if !strings.Contains(render(cond), "kms:ViaService") {
		return "needs a kms:ViaService condition (the key is used through SNS only)"
	}
	return ""
}

// eachContains checks that every resource renders with one of the wants in
// it; "*" alone must be asked for.
func eachContains(res []any, wants ...string) string {
	if len(res) == 0 {
		return "no resource"
	}
	for _, r := range res {
		s := render(r)
		ok := false
		for _, w := range wants {
			if w == "*" && s == "*" || w != "*" && strings.Contains(s, w) {
				ok = true
			}
		}
		if !ok {
			return fmt.Sprintf("resource %s is none of %q", s, wants)
		}
	}
	return ""
}

func checkScoped(t *testing.T, policy string, stmts []Statement) {
	t.Helper()
	for _, s := range stmts {
		if s.Effect != "Allow" {
			t.Errorf("%s %s: only Allow statements are expected, got %q", policy, s.Sid, s.Effect)
		}
		for _, a := range s.Actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s %s: wildcard action %q", policy, s.Sid, a)
				continue
			}
			check, ok := scopes[a]
			if !ok {
				t.Errorf("%s %s: no scoping rule for %s (add one to scopes in template_test.go)", policy, s.Sid, a)
				continue
			}
			if msg := check(s.Resources, s.Condition); msg != "" {
				t.Errorf("%s %s: %s: %s", policy, s.Sid, a, msg)
			}
		}
	}
}

// TestIAMComparisonCatchesAnUngrantedCall is the check that the comparison
// above can fail: the calls of a fixture module (testdata/extracall: some the
// daemon makes, plus GetLogEvents in a daemon package and DescribeLogStreams
// in its command package) are added to the real code's, and the result is
// compared with the real template's task policy.
func TestIAMComparisonCatchesAnUngrantedCall(t *testing.T) {
	calls, err := Collect("testdata/extracall", []string{"internal/daemon", "cmd/tool!"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range calls.Daemon {
		got = append(got, c.Service+"."+c.Op)
	}
	want := []string{"cloudwatchlogs.DescribeLogGroups", "cloudwatchlogs.DescribeLogStreams",
		"cloudwatchlogs.FilterLogEvents", "cloudwatchlogs.GetLogEvents", "sns.Publish"}
	if !slices.Equal(got, want) {
		t.Errorf("daemon calls: got %q, want %q", got, want)
	}
	var ops []string
	for _, c := range calls.Operator {
		ops = append(ops, c.Service+"."+c.Op+" "+c.Pos)
	}
	if want := []string{"cloudwatch.PutMetricAlarm internal/ops/ops.go:6"}; !slices.Equal(ops, want) {
		t.Errorf("operator calls: got %q, want %q", ops, want)
	}

	// The real code plus the fixture's calls: as if the fixture's files were added.
	tpl := loadTemplate(t)
	d, err := CompareActions(Statements(tpl.Resources["TaskApiPolicy"].Properties["PolicyDocument"]),
		append(collect(t).Daemon, calls.Daemon...))
	if err != nil {
		t.Fatal(err)
	}
	wantMissing := []string{
		"logs:DescribeLogStreams (called at cmd/tool/main.go:11)",
		"logs:GetLogEvents (called at internal/notify/notify.go:26)",
	}
	if d.OK() || !slices.Equal(d.Missing, wantMissing) || len(d.Extra) != 0 {
		t.Errorf("comparison with the fixture: got\n%s\nwant missing %q and nothing extra", d, wantMissing)
	}

	// And the other way: a permission nothing calls is reported.
	d, err = CompareActions([]Statement{{Effect: "Allow", Actions: []string{"sns:Publish", "sns:Subscribe", "kms:Decrypt"}}},
		[]Call{{Service: "sns", Op: "Publish", Pos: "x.go:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Extra, []string{"sns:Subscribe"}) || len(d.Missing) != 0 {
		t.Errorf("extra permission: got\n%s\nwant extra sns:Subscribe only", d)
	}

	// A service the collector cannot map is an error, not a guess.
	if _, err := CompareActions(nil, []Call{{Service: "bedrockruntime", Op: "InvokeModel", Pos: "y.go:2"}}); err == nil ||
		!strings.Contains(err.Error(), `no IAM prefix known for SDK service package "bedrockruntime"`) {
		t.Errorf("unknown service: got %v", err)
	}
}

// TestNetworkIsolation: no public IP, no inbound rule on the task, no egress
// to the internet anywhere, egress from the task only to the endpoints, S3
// (ECR layers), EFS and Redis.
func TestNetworkIsolation(t *testing.T) {
	tpl := loadTemplate(t)

	// Both ways of starting the task: private subnets, no public IP, the task SG only.
	runners := 0
	for _, r := range tpl.Resources {
		var net map[string]any
		switch r.Type {
		case "AWS::ECS::Service":
			net = asMap(asMap(r.Properties["NetworkConfiguration"])["AwsvpcConfiguration"])
		case "AWS::Scheduler::Schedule":
			net = asMap(asMap(asMap(asMap(r.Properties["Target"])["EcsParameters"])["NetworkConfiguration"])["AwsvpcConfiguration"])
		case "AWS::ECS::TaskSet", "AWS::EC2::Instance", "AWS::EC2::EIP", "AWS::ElasticLoadBalancingV2::LoadBalancer":
			t.Errorf("%s: unexpected %s", r.Name, r.Type)
			continue
		default:
			continue
		}
		runners++
		if net["AssignPublicIp"] != "DISABLED" {
			t.Errorf("%s: AssignPublicIp: got %v, want DISABLED", r.Name, net["AssignPublicIp"])
		}
		sgs := branches(net["SecurityGroups"])
		if len(sgs) != 1 || !refTo(sgs[0], "TaskSecurityGroup") {
			t.Errorf("%s: SecurityGroups: got %s, want [TaskSecurityGroup]", r.Name, render(sgs))
		}
		subnets := branches(net["Subnets"])
		if len(subnets) != 2 || !refTo(subnets[0], "PrivateSubnetA") || !refTo(subnets[1], "PrivateSubnetB") {
			t.Errorf("%s: Subnets: got %s, want the two private subnets", r.Name, render(subnets))
		}
	}
	if runners != 2 {
		t.Errorf("got %d ways of running the task, want 2 (the service and the schedule)", runners)
	}

	task := resource(t, tpl, "TaskSecurityGroup", "AWS::EC2::SecurityGroup")
	if _, ok := task.Properties["SecurityGroupIngress"]; ok {
		t.Error("TaskSecurityGroup has inbound rules")
	}
	for _, r := range tpl.OfType("AWS::EC2::SecurityGroupIngress") {
		if refTo(r.Properties["GroupId"], "TaskSecurityGroup") {
			t.Errorf("%s: an inbound rule on the task's security group", r.Name)
		}
	}

	// The task's egress, rule by rule.
	type dest struct {
		port string
		to   string
	}
	var got []dest
	for _, e := range branches(task.Properties["SecurityGroupEgress"]) {
		m := asMap(e)
		if m["IpProtocol"] != "tcp" || m["FromPort"] != m["ToPort"] {
			t.Errorf("TaskSecurityGroup egress %s: want one TCP port", render(m))
		}
		var to []string
		for _, k := range []string{"CidrIp", "CidrIpv6", "DestinationSecurityGroupId", "DestinationPrefixListId"} {
			if v, ok := m[k]; ok {
				to = append(to, k+"="+render(v))
			}
		}
		got = append(got, dest{fmt.Sprint(m["FromPort"]), strings.Join(to, ",")})
	}
	want := []dest{
		{"443", "DestinationSecurityGroupId=" + render(map[string]any{"Fn::If": []any{"CreateEndpointSecurityGroup",
			map[string]any{"Ref": "EndpointSecurityGroup"}, map[string]any{"Ref": "EndpointSecurityGroupId"}}})},
		{"443", "DestinationPrefixListId=" + render(map[string]any{"Ref": "S3PrefixListId"})},
		{"2049", "DestinationSecurityGroupId=" + render(map[string]any{"Ref": "StateFileSystemSecurityGroup"})},
		{"6379", "DestinationSecurityGroupId=" + render(map[string]any{"Ref": "RedisSecurityGroupId"})},
	}
	if !slices.Equal(got, want) {
		t.Errorf("TaskSecurityGroup egress:\n got %v\nwant %v", got, want)
	}
	if _, ok := tpl.Resources["EndpointIngressFromTask"]; !ok {
		t.Error("no rule lets the task reach the endpoints")
	}
	for _, r := range tpl.OfType("AWS::EC2::SecurityGroupEgress") {
		t.Errorf("%s: egress rules live in the security groups, where they replace the default allow-all", r.Name)
	}

	// No rule anywhere opens to or from the internet. The only CIDR rule allowed is the
	// no-op that replaces a group's default allow-all egress.
	for _, r := range tpl.Resources {
		var rules []any
		switch r.Type {
		case "AWS::EC2::SecurityGroup":
			if _, ok := r.Properties["SecurityGroupEgress"]; !ok {
				t.Errorf("%s: no SecurityGroupEgress, so AWS adds allow-all egress", r.Name)
			}
			rules = append(branches(r.Properties["SecurityGroupIngress"]), branches(r.Properties["SecurityGroupEgress"])...)
		case "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress":
			rules = []any{r.Properties}
		}
		for _, rule := range rules {
			m := asMap(rule)
			if _, ok := m["CidrIpv6"]; ok {
				t.Errorf("%s: IPv6 CIDR rule %s", r.Name, render(m))
			}
			cidr, ok := m["CidrIp"]
			if !ok {
				continue
			}
			if cidr != "255.255.255.255/32" || m["IpProtocol"] != "icmp" || m["FromPort"] != "252" || m["ToPort"] != "86" {
				t.Errorf("%s: CIDR rule %s (only the no-op 255.255.255.255/32 icmp 252/86 is allowed)", r.Name, render(m))
			}
		}
	}
	if strings.Contains(readFile(t, templatePath), "0.0.0.0/0") {
		t.Error("the template mentions 0.0.0.0/0")
	}
}

// TestEndpoints: every AWS service the code calls, and those the platform
// needs to start the task (ECR, S3 for its layers, CloudWatch Logs for the
// log driver), has a VPC endpoint, each switchable off.
func TestEndpoints(t *testing.T) {
	tpl := loadTemplate(t)
	calls := collect(t)
	need := map[string]string{"ecr.api": "image pull", "ecr.dkr": "image pull", "s3": "image layers", "logs": "the awslogs driver"}
	// The issue lists these; sts is not called by the code today (the SDK gets the task
	// role's credentials from the ECS agent) and is kept for anything that assumes roles.
	for _, s := range []string{"monitoring", "sns", "sts"} {
		need[s] = "listed in the issue"
	}
	for _, svc := range Services(append(calls.Daemon, calls.Operator...)) {
		e, err := EndpointService(svc)
		if err != nil {
			t.Fatal(err)
		}
		need[e] = "called by the code (" + svc + ")"
	}
	have := map[string]Resource{}
	subRe := regexp.MustCompile(`^com\.amazonaws\.\$\{AWS::Region\}\.([a-z0-9.-]+)$`)
	for _, r := range tpl.OfType("AWS::EC2::VPCEndpoint") {
		sub, _ := asMap(r.Properties["ServiceName"])["Fn::Sub"].(string)
		m := subRe.FindStringSubmatch(sub)
		if m == nil {
			t.Errorf("%s: ServiceName %s", r.Name, render(r.Properties["ServiceName"]))
			continue
		}
		have[m[1]] = r
	}
	var names []string
	for s := range need {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		r, ok := have[s]
		if !ok {
			t.Errorf("no VPC endpoint for %s (%s)", s, need[s])
			continue
		}
		cond := asMap(tpl.Conditions[r.Condition])["Fn::Equals"]
		args, _ := cond.([]any)
		if r.Condition == "" || len(args) != 2 || args[1] != "true" {
			t.Errorf("%s: endpoint for %s cannot be switched off (Condition %q)", r.Name, s, r.Condition)
		} else if p, _ := asMap(args[0])["Ref"].(string); tpl.Parameters[p]["Default"] != "true" {
			t.Errorf("%s: parameter %s should default to true", r.Name, p)
		}
		if s == "s3" {
			if r.Properties["VpcEndpointType"] != "Gateway" {
				t.Errorf("%s: want a gateway endpoint", r.Name)
			}
			continue
		}
		if r.Properties["VpcEndpointType"] != "Interface" || r.Properties["PrivateDnsEnabled"] != "true" {
			t.Errorf("%s: want an interface endpoint with private DNS", r.Name)
		}
		sgs := branches(r.Properties["SecurityGroupIds"])
		if len(sgs) != 2 || !refTo(sgs[0], "EndpointSecurityGroup") || !refTo(sgs[1], "EndpointSecurityGroupId") {
			t.Errorf("%s: SecurityGroupIds %s, want the endpoint security group", r.Name, render(sgs))
		}
	}
}

// TestTaskDefinition: the container runs as the image's user on a read-only
// root, its one writable path is the encrypted EFS state volume, and its
// command and environment fit the configuration files in the image.
func TestTaskDefinition(t *testing.T) {
	tpl := loadTemplate(t)
	td := resource(t, tpl, "TaskDefinition", "AWS::ECS::TaskDefinition")
	if !slices.Equal(branches(td.Properties["RequiresCompatibilities"]), []any{"FARGATE"}) || td.Properties["NetworkMode"] != "awsvpc" {
		t.Error("want a Fargate task in awsvpc mode")
	}
	cds := branches(td.Properties["ContainerDefinitions"])
	if len(cds) != 1 {
		t.Fatalf("got %d containers, want 1", len(cds))
	}
	c := asMap(cds[0])
	if c["User"] != "65532:65532" {
		t.Errorf("User: got %v, want 65532:65532", c["User"])
	}
	if c["ReadonlyRootFilesystem"] != "true" {
		t.Error("ReadonlyRootFilesystem is not true")
	}
	if !strings.Contains(render(c["LinuxParameters"]), "Drop:[ALL]") {
		t.Errorf("capabilities not dropped: %s", render(c["LinuxParameters"]))
	}
	mps := branches(c["MountPoints"])
	if len(mps) != 1 || asMap(mps[0])["ContainerPath"] != "/var/lib/secwatch" || asMap(mps[0])["SourceVolume"] != "state" {
		t.Errorf("MountPoints: got %s, want state at /var/lib/secwatch only", render(mps))
	}
	vols := branches(td.Properties["Volumes"])
	if len(vols) != 1 {
		t.Fatalf("got %d volumes, want 1", len(vols))
	}
	efs := asMap(asMap(vols[0])["EFSVolumeConfiguration"])
	if efs["TransitEncryption"] != "ENABLED" || asMap(efs["AuthorizationConfig"])["IAM"] != "ENABLED" ||
		!refTo(asMap(efs["AuthorizationConfig"])["AccessPointId"], "StateAccessPoint") {
		t.Errorf("state volume: got %s, want EFS through the access point with TLS and IAM", render(efs))
	}
	fsys := resource(t, tpl, "StateFileSystem", "AWS::EFS::FileSystem")
	if fsys.Properties["Encrypted"] != "true" {
		t.Error("StateFileSystem is not encrypted")
	}
	ap := resource(t, tpl, "StateAccessPoint", "AWS::EFS::AccessPoint")
	if u := asMap(ap.Properties["PosixUser"]); u["Uid"] != "65532" || u["Gid"] != "65532" {
		t.Errorf("access point user: got %s, want 65532:65532", render(u))
	}
	if ci := asMap(asMap(ap.Properties["RootDirectory"])["CreationInfo"]); ci["OwnerUid"] != "65532" || ci["Permissions"] != "0700" {
		t.Errorf("access point directory: got %s, want owned by 65532, mode 0700", render(ci))
	}
	if ing := tpl.Resources["StateFileSystemIngressFromTask"].Properties; ing["FromPort"] != "2049" || !refTo(ing["SourceSecurityGroupId"], "TaskSecurityGroup") {
		t.Errorf("EFS ingress: got %s, want 2049 from the task only", render(ing))
	}
	if tp := resource(t, tpl, "Topic", "AWS::SNS::Topic"); render(tp.Properties["KmsMasterKeyId"]) != render(map[string]any{"Fn::GetAtt": []any{"TopicKey", "Arn"}}) {
		t.Error("the created topic is not encrypted with the stack's key")
	}
	if resource(t, tpl, "TopicKey", "AWS::KMS::Key").Properties["EnableKeyRotation"] != "true" {
		t.Error("TopicKey rotation is off")
	}

	// Command: run, with --once --timeout on a schedule (a run that cannot
	// finish must not hold the state lock into the next one), with one of
	// the image's configs.
	cmd := asMap(c["Command"])["Fn::If"].([]any)
	if cmd[0] != "IsScheduled" {
		t.Fatalf("Command: got %s", render(c["Command"]))
	}
	configs := map[string]bool{}
	for i, wantOnce := range map[int]bool{1: true, 2: false} {
		args := cmd[i].([]any)
		once := len(args) == 6 && args[3] == "--once" && args[4] == "--timeout" &&
			render(args[5]) == render(map[string]any{"Ref": "OnceTimeout"})
		if args[0] != "run" || args[1] != "--config" || once != wantOnce || (!wantOnce && len(args) != 3) {
			t.Errorf("Command (scheduled=%v): got %s", wantOnce, render(args))
		}
		for _, p := range branches(args[2]) {
			configs[p.(string)] = true
		}
	}
	// Health check, service mode only (a --once run serves no /healthz):
	// the image's own binary, no shell, with the config the daemon runs.
	hc, _ := asMap(c["HealthCheck"])["Fn::If"].([]any)
	if len(hc) != 3 || hc[0] != "IsService" || render(hc[2]) != render(map[string]any{"Ref": "AWS::NoValue"}) {
		t.Fatalf("HealthCheck: got %s, want one in service mode only", render(c["HealthCheck"]))
	}
	hcCmd, _ := asMap(hc[1])["Command"].([]any)
	if len(hcCmd) != 5 || hcCmd[0] != "CMD" || hcCmd[2] != "healthcheck" || hcCmd[3] != "--config" || render(hcCmd[4]) != render(cmd[2].([]any)[2]) {
		t.Errorf("HealthCheck command: got %s, want [CMD <binary> healthcheck --config <the service's config>]", render(hcCmd))
	}
	if entry := `ENTRYPOINT ["` + fmt.Sprint(hcCmd[1]) + `"]`; !strings.Contains(readFile(t, filepath.Join("..", "Dockerfile")), entry) {
		t.Errorf("HealthCheck runs %v, which is not the Dockerfile's %s", hcCmd[1], entry)
	}
	image := imageConfigs(t)
	for p := range configs {
		if _, ok := image[p]; !ok {
			t.Errorf("Command names %s, which the Dockerfile does not install (it installs %v)", p, image)
		}
	}
	// Environment: every ${VAR} without a default in those configs is set.
	env := map[string]bool{}
	for _, e := range branches(c["Environment"]) {
		env[asMap(e)["Name"].(string)] = true
	}
	varRe := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	for p := range configs {
		for _, m := range varRe.FindAllStringSubmatch(readFile(t, image[p]), -1) {
			if !env[m[1]] {
				t.Errorf("%s uses ${%s}, which the task definition does not set", image[p], m[1])
			}
		}
	}
	// Stop timeout above shutdown_grace, so SIGTERM is enough.
	if c["StopTimeout"] != "30" {
		t.Errorf("StopTimeout: got %v, want 30", c["StopTimeout"])
	}
	for p := range configs {
		if !strings.Contains(readFile(t, image[p]), "\nshutdown_grace: 20s\n") {
			t.Errorf("%s: want shutdown_grace: 20s, below the StopTimeout", image[p])
		}
	}
}

// TestSchedulerRole: the schedule may start this task definition in this
// cluster, and pass exactly the two roles to ECS.
func TestSchedulerRole(t *testing.T) {
	tpl := loadTemplate(t)
	r := resource(t, tpl, "SchedulerRole", "AWS::IAM::Role")
	var actions []string
	for _, p := range branches(r.Properties["Policies"]) {
		for _, s := range Statements(asMap(p)["PolicyDocument"]) {
			actions = append(actions, s.Actions...)
			switch s.Sid {
			case "RunTask":
				if len(s.Resources) != 1 || !refTo(s.Resources[0], "TaskDefinition") || !strings.Contains(render(s.Condition), "ecs:cluster") {
					t.Errorf("RunTask: got %s %s", render(s.Resources), render(s.Condition))
				}
			case "PassTaskRoles":
				if !strings.Contains(render(s.Condition), "iam:PassedToService:ecs-tasks.amazonaws.com") {
					t.Errorf("PassRole without iam:PassedToService: %s", render(s.Condition))
				}
			}
		}
	}
	sort.Strings(actions)
	if want := []string{"ecs:RunTask", "iam:PassRole"}; !slices.Equal(actions, want) {
		t.Errorf("SchedulerRole actions: got %q, want %q", actions, want)
	}
	// The task role: nothing but the two policies of this stack.
	tr := resource(t, tpl, "TaskRole", "AWS::IAM::Role")
	for _, k := range []string{"Policies", "ManagedPolicyArns", "PermissionsBoundary"} {
		if _, ok := tr.Properties[k]; ok && k != "PermissionsBoundary" {
			t.Errorf("TaskRole: %s set; its permissions are TaskApiPolicy and TaskStateVolumePolicy only", k)
		}
	}
	var attached []string
	for _, p := range append(tpl.OfType("AWS::IAM::Policy"), tpl.OfType("AWS::IAM::ManagedPolicy")...) {
		for _, role := range branches(p.Properties["Roles"]) {
			if refTo(role, "TaskRole") {
				attached = append(attached, p.Name)
			}
		}
	}
	sort.Strings(attached)
	if want := []string{"TaskApiPolicy", "TaskStateVolumePolicy"}; !slices.Equal(attached, want) {
		t.Errorf("policies on TaskRole: got %q, want %q", attached, want)
	}
	sv := Statements(tpl.Resources["TaskStateVolumePolicy"].Properties["PolicyDocument"])
	if len(sv) != 1 || !slices.Equal(sv[0].Actions, []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"}) ||
		!strings.Contains(render(sv[0].Condition), "elasticfilesystem:AccessPointArn") {
		t.Errorf("TaskStateVolumePolicy: got %+v", sv)
	}
}

// imageConfigs maps the configuration paths the Dockerfile installs in the
// image to their source files in the repository.
func imageConfigs(t *testing.T) map[string]string {
	t.Helper()
	df := readFile(t, "../Dockerfile")
	m := regexp.MustCompile(`cp ((?:deploy/config/\S+\.yaml ?)+) /out/etc/secwatch/`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile: no line copying deploy/config/*.yaml to /out/etc/secwatch/")
	}
	out := map[string]string{}
	for _, src := range strings.Fields(m[1]) {
		out["/etc/secwatch/"+filepath.Base(src)] = filepath.Join("..", src)
	}
	return out
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
