// Package deploy keeps secwatch's deployment honest: the container image
// (Dockerfile), the CloudFormation template (cloudformation/secwatch.yaml)
// and the configuration files baked into the image (config/) are checked
// by this package's tests against the code itself.
//
// Collect reads the module's Go source (never imports it) and lists the AWS
// operations the code references, split between the daemon (what the ECS
// task runs) and operator commands; the template's IAM policies must grant
// exactly those. Template parses a CloudFormation template, short-form tags
// (!Ref, !Sub, !GetAtt, !If, …) included.
//
// Nothing imports this package; it imports only the standard library and
// the YAML parser.
package deploy
