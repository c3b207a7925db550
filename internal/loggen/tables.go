package loggen

// Fixed vocabularies of the simulated deployment. Indexes into these tables
// are stored in events, so their order is part of the output: append only.

// kind is a logical event's type.
type kind uint8

const (
	kRequest kind = iota
	kAuthFailure
	kCORS
	kSanitization
	kUnknownTool
	kRateLimit // shares its request with the unknown-tool attempt before it
	kInjection
	kValidationBypass
	kLoop
	kBudget
	kHealth // ALB health check; mcp-text only, not part of Config.Events
	numKinds
)

var kindNames = [numKinds]string{
	"request", "authentication_failure", "cors_violation", "request_sanitization_failure",
	"unknown_tool_attempt", "rate_limit_exceeded", "injection_attempt",
	"validation_bypass_attempt", "loop_detected", "budget_exhausted", "health_check",
}

// failureTypes index ev.sub of kAuthFailure; failureTexts are the security
// event messages for each (invalid_key adds the key hash).
var (
	failureTypes = []string{"invalid_key", "missing_header", "invalid_format", "empty_token"}
	failureTexts = []string{"Invalid API key (hash: ", "No Authorization header provided",
		"Authorization header must use Bearer scheme", "Bearer token is empty"}
)

const (
	ftInvalidKey = iota
	ftMissingHeader
	ftInvalidFormat
	ftEmptyToken
)

// paths index ev.path: the MCP endpoints first, then what probers try.
var paths = []string{
	"/mcp", "/mcp/tools/call", "/mcp/tools/list",
	"/.env", "/.git/config", "/admin", "/wp-login.php", "/api/v1/users", "/actuator/env",
	"/server-status", "/config.json", "/v1/models", "/graphql", "/swagger.json",
	"/debug/pprof/", "/phpmyadmin/", "/console", "/login", "/api/keys", "/.aws/credentials",
	"/backup.zip", "/metrics", "/sse", "/messages", "/mcp/sse", "/api/tools",
	"/.well-known/oauth-authorization-server", "/oauth/token", "/v2/api-docs", "/cgi-bin/luci",
	"/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/solr/admin/info/system",
	"/owa/auth/logon.aspx", "/remote/login", "/boaform/admin/formLogin", "/HNAP1",
	"/jenkins/login", "/_ignition/execute-solution", "/telescope/requests", "/api/session",
	"/mcp/resources/list", "/mcp/prompts/list", "/admin/config", "/.DS_Store", "/id_rsa",
}

const numMCPPaths = 3

// tools are the server's registered tools; unknownTools what enumerators try.
var (
	tools = []string{
		"check_tag_compliance", "find_untagged_resources", "validate_resource_tags",
		"get_cost_attribution_gap", "suggest_tags", "get_tagging_policy",
		"generate_compliance_report", "get_violation_history",
	}
	unknownTools = []string{
		"list_users", "execute_command", "read_file", "shell", "aws_cli", "get_secrets",
		"admin_panel", "delete_resources", "run_query", "get_credentials", "exec", "eval",
		"system_info", "debug", "env_dump", "s3_download", "iam_create_user", "invoke_lambda",
		"write_file", "fetch_url",
	}
	injectionFields = []string{"unknown", "unknown", "resource_arns", "tags", "resource_types", "filters"}
)

// allowedOrigins are the server's CORS allowlist; badOrigins send violations.
var (
	allowedOrigins = []string{"https://claude.ai", "https://app.example.com"}
	badOrigins     = []string{
		"https://evil.example.net", "http://localhost:8000", "null",
		"https://app.example.com.attacker.example", "chrome-extension://hgmloofddffdnphfgcellkdfbfbjeloo",
		"http://claude.ai",
	}
)

// sanitizationReasons are the texts after "Request sanitization failed: ".
var sanitizationReasons = []string{
	"Dangerous header not allowed: x-forwarded-host",
	"Dangerous header not allowed: x-forwarded-host",
	"Dangerous header not allowed: x-forwarded-host",
	"Dangerous header not allowed: x-original-url",
	"Header injection detected in x-correlation-id",
	"Null byte detected in header user-agent",
	"Path traversal attempt detected in URL",
	"Too many headers: 64 (max: 50)",
	"Headers too large: 9231 bytes (max: 8192)",
}

// Deployment constants.
const (
	albName     = "app/mcp-tagging-prod/4f1c2a9be07d3e55"
	domain      = "mcp-tagging.example.com"
	targetGroup = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mcp-tagging-prod-tg/6d0ecf831eec9f09"
	certARN     = "arn:aws:acm:us-east-1:123456789012:certificate/2a6c1f0e-8d3b-4e6f-9b1a-5c7d2e4f8a90"
	redisError  = "Error 111 connecting to redis.mcp-tagging.internal:6379. Connection refused."
)

// albNodes are the ALB's private addresses, which the server logs as the
// client; targets are the ECS tasks behind it.
var (
	albNodes = []string{"10.0.1.57", "10.0.2.113"}
	targets  = []string{"10.0.11.23:8080", "10.0.12.87:8080"}
)

var userAgents = []string{
	"python-httpx/0.27.2", "python-httpx/0.28.1", "claude-code/1.0.58", "node", "undici",
	"mcp-remote/0.1.17", "curl/8.5.0", "Go-http-client/2.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
}

var attackerAgents = []string{
	"python-requests/2.31.0", "Go-http-client/1.1", "curl/7.88.1", "Mozilla/5.0 zgrab/0.x",
	"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
}
