package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/secwatch/secwatch/internal/alarms"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

const alarmsAbout = `Provision and audit CloudWatch alarms (docs/alarms.md).

  plan    compare the metric filters and alarms the rules want with what exists
          and print the difference; exit 1 if a rule cannot become an alarm.
          With --verify FILE..., instead replay recorded logs through every
          alarmed rule and its filter pattern, offline, and print every line on
          which they disagree (exit 1 if any).
  apply   make the plan so (idempotent); --prune also deletes secwatch-owned
          resources whose rules are gone. Foreign alarms are never touched.
  audit   report every alarm of the region that cannot work: no metric published
          with exactly its namespace, name and dimensions, a metric filter whose
          pattern matches none of its log group's recent events, no actions,
          actions to topics that do not exist; exit 1 on any finding.`

// cmdAlarms is `secwatch alarms plan|apply|audit`.
func cmdAlarms(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "Usage: secwatch alarms plan|apply|audit [flags]\n\n%s\n", alarmsAbout)
		return exitUsage
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, "Usage: secwatch alarms plan|apply|audit [flags]\n\n%s\n\nRun 'secwatch alarms <plan|apply|audit> --help' for the flags.\n", alarmsAbout)
		return exitOK
	case "plan", "apply", "audit":
	default:
		fmt.Fprintf(stderr, "secwatch alarms: unknown subcommand %q (want plan, apply or audit)\n", sub)
		return exitUsage
	}
	operands := ""
	if sub == "plan" {
		operands = "[--verify FILE...]"
	}
	fs := newFlags("alarms "+sub, operands, alarmsAbout, stderr)
	cfgPath := fs.String("config", "secwatch.yaml", "configuration `file` (see docs/config.md); its alarms map configures the alarms")
	asJSON := fs.Bool("json", false, "write JSON instead of text")
	outputAlias(fs, asJSON)
	var prune, verify *bool
	var format, timeField *string
	var prefix *string
	var lookBack *time.Duration
	switch sub {
	case "plan", "apply":
		prune = fs.Bool("prune", false, "also delete secwatch-owned metric filters and alarms whose rules are gone")
	}
	if sub == "plan" {
		verify = fs.Bool("verify", false, "replay the FILEs through every alarmed rule and its filter pattern (offline) instead of planning")
		format = fs.String("format", "", "`format` of the FILEs for --verify (default: the format of the config's only source, else json)")
		timeField = fs.String("time-field", "", "time `field` of the FILEs for --verify (default: that source's time_field)")
	}
	if sub == "audit" {
		prefix = fs.String("prefix", "", "audit only the alarms whose names start with `prefix`, and the metric filters feeding them (default: every alarm and filter)")
		lookBack = fs.Duration("look-back", alarms.DefaultLookBack, "run each metric filter's pattern over its log group's events of this `duration`")
	}
	if code, ok := parseFlags(fs, args[1:], stdout); !ok {
		return code
	}
	if fs.NArg() > 0 && (verify == nil || !*verify) {
		fmt.Fprintf(stderr, "secwatch alarms %s: unexpected arguments %q\n", sub, fs.Args())
		return exitUsage
	}
	if verify != nil && *verify && fs.NArg() == 0 {
		fmt.Fprintf(stderr, "secwatch alarms plan --verify: name at least one recorded log FILE\n")
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	var rs []*rules.Rule
	if sub != "audit" { // audit needs no rules
		if rs, err = rulefile.Load(cfg.Rules...); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailed
		}
	}
	if verify != nil && *verify {
		f, tf := verifyFormat(cfg, *format, *timeField)
		n, err := verifyAlarms(stdout, stderr, rs, f, tf, fs.Args())
		if err != nil || n > 0 {
			return exitFailed
		}
		return exitOK
	}
	region, endpoint := cfg.Alarms.Region, cfg.Alarms.Endpoint
	switch {
	case cfg.Alarms.Enabled:
	case sub == "audit": // reads only; the aws map says where
		region, endpoint = cfg.AWS.Region, cfg.AWS.Endpoint
	default:
		fmt.Fprintf(stderr, "secwatch alarms %s: %s has no alarms map (alarms: {} takes the defaults; see docs/alarms.md)\n", sub, cfg.File)
		return exitFailed
	}
	var want []alarms.Resource
	if sub != "audit" {
		var errs []error
		if want, errs = alarms.Desired(rs, alarmSettings(cfg)); len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "secwatch alarms %s: %d rules cannot become alarms; nothing was read or changed\n", sub, len(errs))
			return exitFailed
		}
	}
	cw, logs, topics, err := alarmClients(ctx, region, endpoint)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch alarms %s: %v\n", sub, err)
		return exitFailed
	}
	if sub == "audit" {
		if *lookBack <= 0 {
			fmt.Fprintf(stderr, "secwatch alarms audit: --look-back must be positive, got %s\n", *lookBack)
			return exitUsage
		}
		a := &alarms.Auditor{CloudWatch: cw, Logs: logs, SNS: topics, AlarmNamePrefix: *prefix, LookBack: *lookBack}
		rep, err := a.Audit(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "secwatch alarms audit: %v\n", err)
			return exitFailed
		}
		if *asJSON {
			err = rep.WriteJSON(stdout)
		} else {
			err = rep.WriteText(stdout)
		}
		if err != nil || len(rep.Findings) > 0 {
			return exitFailed
		}
		return exitOK
	}
	return planOrApply(ctx, sub == "apply", &alarms.Reconciler{CloudWatch: cw, Logs: logs, Prune: *prune, Owner: cfg.Alarms.Owner, NamePrefix: cfg.Alarms.NamePrefix}, want, *asJSON, stdout, stderr)
}

// planOrApply prints the plan and, for apply, carries it out.
func planOrApply(ctx context.Context, apply bool, rec *alarms.Reconciler, want []alarms.Resource, asJSON bool, stdout, stderr io.Writer) int {
	name := "plan"
	if apply {
		name = "apply"
	}
	p, err := rec.Plan(ctx, want)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch alarms %s: %v\n", name, err)
		return exitFailed
	}
	if asJSON {
		err = p.WriteJSON(stdout)
	} else {
		err = p.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "secwatch alarms %s: %v\n", name, err)
		return exitFailed
	}
	if !apply {
		return exitOK
	}
	n, err := rec.Apply(ctx, p)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch alarms apply: %d of %d changes made, then: %v\n", n, len(p.Changes), err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "secwatch alarms apply: %d changes made\n", n)
	return exitOK
}

// alarmSettings turns the config's alarms map into the reconciler's
// settings, with the format of the source reading each log group or log
// group prefix (the first, when several sources read one).
func alarmSettings(cfg *config.Config) alarms.Settings {
	c := cfg.Alarms
	s := alarms.Settings{TopicARN: c.TopicARN, LogGroup: c.LogGroup, Namespace: c.Namespace, Owner: c.Owner, NamePrefix: c.NamePrefix,
		Formats: map[string]string{}, PrefixFormats: map[string]string{}}
	for _, src := range cfg.Sources {
		if src.Type != config.TypeCloudWatch {
			continue
		}
		for _, g := range src.LogGroups {
			if _, seen := s.Formats[g]; !seen {
				s.Formats[g] = cmp.Or(src.Format, "json")
			}
		}
		if p := src.LogGroupPrefix; p != "" {
			if _, seen := s.PrefixFormats[p]; !seen {
				s.PrefixFormats[p] = cmp.Or(src.Format, "json")
			}
		}
	}
	if h := c.Heartbeat; h.Enabled {
		s.Heartbeat = &alarms.Heartbeat{Namespace: h.Namespace, MetricName: h.MetricName, Period: h.Period, MissingAfter: h.MissingAfter}
		s.Operator = &alarms.Operator{Namespace: h.Namespace, Period: h.Period,
			SourcesDown: config.SourcesDownMetric, DeadLetters: config.DeadLettersMetric, DeliveryFailures: config.DeliveryFailuresMetric}
	}
	if l := c.Lag; l.Enabled {
		s.Lag = &alarms.Lag{Namespace: c.Heartbeat.Namespace, MetricName: l.MetricName, Period: c.Heartbeat.Period, Threshold: l.Threshold}
	}
	return s
}

// verifyFormat picks the format of --verify's files: the flag, else the
// config's only source's.
func verifyFormat(cfg *config.Config, format, timeField string) (string, string) {
	if format != "" {
		return format, timeField
	}
	if len(cfg.Sources) == 1 {
		s := cfg.Sources[0]
		if timeField == "" {
			timeField = s.TimeField
		}
		return s.Format, timeField
	}
	return "json", timeField
}

// alarmClients builds the CloudWatch, CloudWatch Logs and SNS clients of
// a region (the alarms', or for audit without an alarms map, the aws map's).
func alarmClients(ctx context.Context, region, endpoint string) (*cloudwatch.Client, *cloudwatchlogs.Client, *sns.Client, error) {
	awsCfg, err := awsConfig(ctx, region)
	if err != nil {
		return nil, nil, nil, err
	}
	if awsCfg.Region == "" {
		return nil, nil, nil, errors.New("no AWS region: set alarms.region or aws.region, or AWS_REGION")
	}
	if endpoint != "" { // else AWS_ENDPOINT_URL or the shared config may name one
		awsCfg.BaseEndpoint = aws.String(endpoint)
	}
	cw := cloudwatch.NewFromConfig(awsCfg)
	logs := cloudwatchlogs.NewFromConfig(awsCfg)
	topics := sns.NewFromConfig(awsCfg)
	return cw, logs, topics, nil
}

// setHeartbeat gives the daemon a CloudWatch client for its heartbeat when
// the config's alarms map asks for one.
func setHeartbeat(ctx context.Context, cfg *config.Config, d *daemon.Daemon) error {
	c := cfg.Alarms
	if !c.Enabled || !c.Heartbeat.Enabled {
		return nil
	}
	awsCfg, err := awsConfig(ctx, c.Region)
	if err != nil {
		return err
	}
	awsCfg.Logger = sdkLogger{d.Log}
	d.CloudWatch = cloudwatch.NewFromConfig(awsCfg, func(o *cloudwatch.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return nil
}
