package sigma

import "slices"

// target is where a Sigma field is found in a native event: a whole field,
// or a part of one (the query of a URL), and whether it is URL-encoded.
type target struct {
	field string
	// part, when set, confines matching to a part of the field's value.
	part *part
	// urlDecoded makes a value match its raw text and its percent-encoded
	// form (one level: "%20" for " "), because a URL field holds what the
	// client sent while rules write the decoded text, or both forms.
	urlDecoded bool
	// plusSpace also takes "+" as an encoded space (query strings).
	plusSpace bool
}

// part is a part of a field's value: it starts after the text matched by
// start, holds characters of class any, and ends where end matches.
type part struct {
	start, any, one, end string
}

var (
	urlQuery = &part{start: `^[^?]*\?`, any: `.*`, one: `.`, end: `$`}
	urlHost  = &part{start: `^[A-Za-z][A-Za-z0-9+.-]*://`, any: `[^:/]*`, one: `[^:/]`, end: `(?::[0-9]*)?(?:/|$)`}
)

// Pipeline maps Sigma field names onto the fields of one input format.
type Pipeline struct {
	// Name is the value of --pipeline.
	Name string
	// Category is the logsource category the pipeline reads; "" means any.
	Category string
	// Fields maps Sigma field names; nil means names are used as they are.
	Fields map[string]target
	// Missing lists Sigma fields the format does not have: a rule that
	// needs one is skipped with a warning.
	Missing []string
	// Keywords are the fields a keyword (a value without a field name)
	// is searched in.
	Keywords []target
}

// Pipelines are the built-in pipelines, by name.
var Pipelines = map[string]*Pipeline{
	"alb": {
		Name: "alb", Category: "webserver",
		Fields: map[string]target{
			"c-ip":          {field: "client_ip"},
			"cs-method":     {field: "request_method"},
			"cs-uri-stem":   {field: "request_path", urlDecoded: true},
			"cs-uri-query":  {field: "request_url", part: urlQuery, urlDecoded: true, plusSpace: true},
			"cs-uri":        {field: "request_url", urlDecoded: true},
			"cs-host":       {field: "request_url", part: urlHost},
			"cs-version":    {field: "request_protocol"},
			"sc-status":     {field: "elb_status_code"},
			"cs-user-agent": {field: "user_agent"},
			"sc-bytes":      {field: "sent_bytes"},
			"cs-bytes":      {field: "received_bytes"},
			"s-ip":          {field: "target_ip"},
			"s-port":        {field: "target_port"},
		},
		Missing: []string{"cs-referer", "cs-cookie", "cs-username", "date", "time", "time-taken",
			"s-sitename", "s-computername", "c-win32-status"},
		Keywords: []target{
			{field: "request_url", urlDecoded: true, plusSpace: true},
			{field: "user_agent"},
			{field: "request_method"},
			{field: "request_protocol"},
		},
	},
	"webserver": {
		Name: "webserver", Category: "webserver",
		Fields: map[string]target{
			"c-ip":          {field: "client_ip"},
			"cs-username":   {field: "user"},
			"cs-method":     {field: "method"},
			"cs-uri-stem":   {field: "path", urlDecoded: true},
			"cs-uri-query":  {field: "query", urlDecoded: true, plusSpace: true},
			"cs-version":    {field: "protocol"},
			"sc-status":     {field: "status"},
			"sc-bytes":      {field: "bytes_sent"},
			"cs-host":       {field: "host"},
			"cs-user-agent": {field: "user_agent"},
			"cs-referer":    {field: "referer"},
			"cs-cookie":     {field: "cookie"},
		},
		Missing:  []string{"date", "time", "time-taken", "s-sitename", "s-computername", "s-ip", "s-port", "cs-bytes", "c-win32-status"},
		Keywords: []target{{field: "line", urlDecoded: true}},
	},
	"json": {
		Name:     "json",
		Keywords: []target{{field: "message"}},
	},
}

// PipelineNames lists the pipelines in the order they are documented.
var PipelineNames = []string{"alb", "webserver", "json"}

// autoPipeline is the pipeline for a rule when none is named: alb for
// webserver rules (the access logs secwatch reads), json otherwise.
func autoPipeline(d *document) *Pipeline {
	if d.logsource["category"] == "webserver" {
		return Pipelines["alb"]
	}
	return Pipelines["json"]
}

// lookup maps a Sigma field; ok is false for a field the format lacks.
func (p *Pipeline) lookup(name string) (target, bool) {
	if p.Fields == nil {
		return target{field: name}, true
	}
	if slices.Contains(p.Missing, name) {
		return target{}, false
	}
	t, ok := p.Fields[name]
	return t, ok
}
