package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// Types lists the source types.
var Types = []string{TypeFile, TypeStdin, TypeCloudWatch, TypeS3}

// sourceKeys maps each source key to the types it applies to (nil: all).
var sourceKeys = map[string][]string{
	"name":               nil,
	"type":               nil,
	"format":             nil,
	"time_field":         nil,
	"time_format":        nil,
	"time_zone":          nil,
	"pattern":            nil,
	"max_line_bytes":     nil,
	"poll_interval":      {TypeFile, TypeCloudWatch},
	"down_after":         {TypeFile, TypeCloudWatch},
	"paths":              {TypeFile},
	"start":              {TypeFile},
	"log_groups":         {TypeCloudWatch},
	"log_group_prefix":   {TypeCloudWatch},
	"stream_prefix":      {TypeCloudWatch},
	"filter_pattern":     {TypeCloudWatch},
	"overlap":            {TypeCloudWatch},
	"region":             {TypeCloudWatch, TypeS3},
	"endpoint":           {TypeCloudWatch, TypeS3},
	"queue_url":          {TypeS3},
	"bucket":             {TypeS3},
	"prefix":             {TypeS3},
	"reconcile_interval": {TypeS3},
}

// sourceKeyList is sourceKeys' keys in documentation order, for
// suggestions.
var sourceKeyList = []string{
	"name", "type", "format", "time_field", "time_format", "time_zone", "pattern", "max_line_bytes",
	"paths", "start", "poll_interval", "down_after",
	"log_groups", "log_group_prefix", "stream_prefix", "filter_pattern", "overlap", "region", "endpoint",
	"queue_url", "bucket", "prefix", "reconcile_interval",
}

var (
	sourceName   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	logGroupName = regexp.MustCompile(`^[A-Za-z0-9._/#-]{1,512}$`)
)

const (
	maxNameLen      = 64
	minLineBytes    = 1 << 10
	maxLineBytes    = 64 << 20
	maxFilterLength = 1024 // FilterLogEvents' limit
)

// sources decodes the sources list and checks names and stdin across it.
func (p *parser) sources(kv keyVal) []Source {
	if !p.Is(kv.val, yaml.SequenceNode, kv.path, "a list of sources") {
		return nil
	}
	if len(kv.val.Content) == 0 {
		p.errorf(kv.val, kv.path, "required: at least one source")
		return nil
	}
	var out []Source
	names := make(map[string]*yaml.Node)
	var stdin *yaml.Node
	for i, n := range kv.val.Content {
		path := fmt.Sprintf("sources[%d]", i)
		s, ok := p.source(n, path)
		if !ok {
			continue
		}
		p.uniqueName(names, n, path, s.Name)
		if s.Type == TypeStdin {
			at := p.valueOf(n, "type")
			if stdin != nil {
				p.errorf(at, path+".type", "only one stdin source is allowed, the first is at %s", p.pos(stdin))
			} else {
				stdin = at
			}
		}
		out = append(out, s)
	}
	return out
}

// pos writes n's position as file:line:col.
func (p *parser) pos(n *yaml.Node) string {
	return yamldiag.Error{File: p.File, Line: n.Line, Col: n.Column}.Error()
}

// source decodes one source. ok is false when n is not a map.
func (p *parser) source(n *yaml.Node, path string) (Source, bool) {
	if !p.Is(n, yaml.MappingNode, path, "a map") {
		return Source{}, false
	}
	kvs := p.mapping(n, path, sourceKeyList)
	s := Source{Format: "json", MaxLineBytes: ingest.DefaultMaxLineBytes}
	// The type decides which other keys apply, so it comes first.
	typeOK := false
	if i := slices.IndexFunc(kvs, func(kv keyVal) bool { return kv.name == "type" }); i >= 0 {
		s.Type, typeOK = p.oneOf(kvs[i], Types)
	} else {
		p.required(n, path+".type", "required (one of %s)", strings.Join(Types, ", "))
	}
	if !slices.ContainsFunc(kvs, func(kv keyVal) bool { return kv.name == "name" }) {
		p.required(n, path+".name", "required")
	}
	has := make(map[string]bool)
	parserOK := true
	for _, kv := range kvs {
		has[kv.name] = true
		if types := sourceKeys[kv.name]; typeOK && types != nil && !slices.Contains(types, s.Type) {
			p.errorf(kv.key, kv.path, "only for %s", describeTypes(types))
			continue
		}
		ok := true
		switch kv.name {
		case "type":
		case "name":
			s.Name = p.name(kv)
		case "format":
			s.Format, ok = p.oneOf(kv, format.Formats)
			parserOK = parserOK && ok
		case "time_field":
			s.TimeField, ok = p.scalar(kv.val, kv.path, "a field name")
			parserOK = parserOK && ok
		case "time_format":
			s.TimeFormat, ok = p.scalar(kv.val, kv.path, "a time format")
			parserOK = parserOK && ok
		case "time_zone":
			s.TimeZone, ok = p.scalar(kv.val, kv.path, "a time zone")
			parserOK = parserOK && ok
		case "pattern":
			s.Pattern, ok = p.scalar(kv.val, kv.path, "a regex")
			parserOK = parserOK && ok
		case "max_line_bytes":
			s.MaxLineBytes, _ = p.size(kv, minLineBytes, maxLineBytes)
		case "poll_interval":
			lo, hi := 10*time.Millisecond, time.Minute
			if s.Type == TypeCloudWatch {
				lo, hi = time.Second, 10*time.Minute
			}
			s.PollInterval, _ = p.duration(kv, lo, hi)
		case "down_after":
			s.DownAfter, _ = p.duration(kv, time.Second, 24*time.Hour)
		case "paths":
			s.Paths = p.list(kv, checkGlob)
		case "start":
			s.Start, _ = p.oneOf(kv, []string{StartBeginning, StartEnd})
		case "log_groups":
			s.LogGroups = p.list(kv, checkLogGroup)
		case "log_group_prefix":
			s.LogGroupPrefix = p.str(kv)
			if s.LogGroupPrefix != "" && checkLogGroup(s.LogGroupPrefix) != "" {
				p.errorf(kv.val, kv.path, "%s, got %s", checkLogGroup(s.LogGroupPrefix), p.got(kv.val))
			}
		case "stream_prefix":
			s.StreamPrefix = p.str(kv)
			if strings.ContainsAny(s.StreamPrefix, ":*") || len(s.StreamPrefix) > 512 {
				p.errorf(kv.val, kv.path, "must be at most 512 characters without ':' or '*', got %s", p.got(kv.val))
			}
		case "filter_pattern":
			s.FilterPattern = p.str(kv)
			if len(s.FilterPattern) > maxFilterLength {
				p.errorf(kv.val, kv.path, "must be at most %d characters, got %d", maxFilterLength, len(s.FilterPattern))
			}
		case "overlap":
			s.Overlap, _ = p.duration(kv, time.Second, time.Hour)
		case "region":
			s.Region = p.region(kv)
		case "endpoint":
			s.Endpoint = p.endpoint(kv)
		default:
			p.s3Key(kv, &s)
		}
	}
	if !typeOK {
		return s, true
	}
	switch s.Type {
	case TypeFile:
		if !has["paths"] {
			p.required(n, path+".paths", "required for type file")
		} else if v := p.valueOf(n, "paths"); v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			p.errorf(v, path+".paths", "required for type file: at least one path")
		}
		if s.Start == "" {
			s.Start = StartEnd
		}
		if s.PollInterval == 0 {
			s.PollInterval = DefaultFilePoll
		}
	case TypeCloudWatch:
		switch {
		case has["log_groups"] && has["log_group_prefix"]:
			p.errorf(p.keyOf(n, "log_group_prefix"), path+".log_group_prefix", "give log_groups or log_group_prefix, not both")
		case !has["log_groups"] && !has["log_group_prefix"]:
			if !p.typos[n]["log_group_prefix"] {
				p.required(n, path+".log_groups", "required for type cloudwatch (or log_group_prefix)")
			}
		case has["log_groups"]:
			if v := p.valueOf(n, "log_groups"); v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				p.errorf(v, path+".log_groups", "required for type cloudwatch: at least one log group")
			}
		}
		if s.PollInterval == 0 {
			s.PollInterval = DefaultCloudWatchPoll
		}
		if s.Overlap == 0 {
			s.Overlap = DefaultOverlap
		}
	case TypeS3:
		p.s3Defaults(&s, n, path)
	}
	if parserOK {
		p.checkParser(&s, n, path)
	}
	return s, true
}

// keyOf returns the key node of name in map node n, or n.
func (p *parser) keyOf(n *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i]
		}
	}
	return n
}

// checkGlob refuses patterns filepath.Glob cannot use.
func checkGlob(s string) string {
	if msg := checkPath(s); msg != "" {
		return msg
	}
	if _, err := filepath.Match(s, ""); err != nil {
		return "must be a valid glob pattern"
	}
	return ""
}

func checkLogGroup(s string) string {
	if !logGroupName.MatchString(s) {
		return "must be a log group name (letters, digits and . _ / # -)"
	}
	return ""
}

// uniqueName reports a name (of the list entry n at path) that an earlier
// entry already has, with the position of the first; names maps each name
// to where it was first defined.
func (p *parser) uniqueName(names map[string]*yaml.Node, n *yaml.Node, path, name string) {
	if name == "" {
		return
	}
	at := p.valueOf(n, "name")
	if first, dup := names[name]; dup {
		p.errorf(at, path+".name", "duplicate name %s, first defined at %s", p.got(at), p.pos(first))
	} else {
		names[name] = at
	}
}

// name decodes the name of a source, probe or notifier: [a-z0-9][a-z0-9_-]*,
// at most maxNameLen characters ("" when it is not one, reported).
func (p *parser) name(kv keyVal) string {
	s, ok := p.scalar(kv.val, kv.path, "a name")
	if ok && (len(s) > maxNameLen || !sourceName.MatchString(s)) {
		p.errorf(kv.val, kv.path, "must match [a-z0-9][a-z0-9_-]* (at most %d characters), got %s", maxNameLen, p.got(kv.val))
		return ""
	}
	return s
}

// ParserOptions are the format options the source's parsers are made
// with. Reference stays zero: a parser takes the time it is made (the
// file's mtime when replaying).
func (s Source) ParserOptions() format.Options {
	return format.Options{TimeField: s.TimeField, Pattern: s.Pattern, TimeFormat: s.TimeFormat, TimeZone: s.TimeZone}
}
