package testutil

import (
	"math/rand/v2"
	"strings"
)

// Secret-bearing fields for redaction property tests: the shapes in which
// credentials reach logs (Authorization headers, Bearer tokens anywhere,
// fields named like keys, tokens, passwords, secrets and cookies, presigned
// URLs, URL passwords, session ids, OAuth codes, AWS access key ids), each with a fresh random secret that can be searched for in
// whatever secwatch outputs.

// SecretField is one field of a log event that carries Secret.
type SecretField struct {
	Key, Value string
	Secret     string
}

// secretKeys are field names whose values are secrets.
var secretKeys = []string{
	"authorization", "Authorization", "proxy-authorization", "x-api-key", "X-API-Key", "api_key", "apiKey", "API-KEY",
	"apikey", "access_token", "refresh_token", "id_token", "token", "session_token", "password", "Password", "passwd",
	"db_password", "secret", "client_secret", "aws_secret_access_key", "cookie", "Cookie", "set-cookie",
	"credential", "credentials", "private_key", "privateKey", "access_key", "accessKey", "signing_key", "key",
	"aws_access_key_id", "AccessKeyId",
}

// nestings are dotted prefixes (nested JSON objects flatten to them).
var nestings = []string{"", "", "headers.", "request.headers.", "details.", "ctx.auth."}

// freeText are free-text values that embed a secret at {S}.
var freeText = []string{
	"Authorization: Bearer {S}", "authorization=Bearer {S}", "Authorization: Basic {S}", "Authorization: Token {S}",
	"Authorization: Digest {S}", "header authorization: bearer {S} sent", "got bearer {S} from client", "Bearer {S}",
	"GET /mcp?api_key={S}&x=1 HTTP/1.1", "/login?user=bob&password={S}", "password={S}", "Password: {S}",
	"Cookie: session={S}; theme=dark", "Cookie: theme=dark; session={S}", "set-cookie: sid={S}; Path=/; HttpOnly",
	`{"token": "{S}"}`, `{'password': '{S}', 'user': 'x'}`, "X-Api-Key: {S}", "x-api-key={S}", "client_secret={S}&grant_type=x",
	"access_token={S}", "secret: {S}", "refresh_token={S};", `{"headers": {"Authorization": "Bearer {S}"}}`,
	"api-key: {S}", "apiKey={S}", "token={S}",
	// A server quoting the key it refused.
	"SECURITY EVENT [MEDIUM]: authentication_failure - Invalid API key {S}", "invalid token: {S}, closing",
	// Presigned URLs, URL passwords, session ids, OAuth codes, signatures.
	"GET /b/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={S}%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T000000Z",
	"GET /b/o?X-Amz-Date=20261207T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature={S} HTTP/1.1",
	"https://bob:{S}@db.internal:5432/app", "dial redis://:{S}@cache:6379/0 failed", "GET /app?session_id={S}&page=2",
	"/oauth/callback?code={S}&state=af0ifjsldkj", "https://cdn.example/f.zip?expires=1700000000&signature={S}",
	"aws_access_key_id={S}", "GET /img?w=1&sig={S}",
}

// akidText are free-text values that embed an AWS access key id at {S}.
var akidText = []string{
	"X-Amz-Credential={S}/20261207/us-east-1/s3/aws4_request", "GET /b/o?X-Amz-Credential={S}%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=x",
	"The AWS Access Key Id {S} does not exist in our records", "user key {S} used from 203.0.113.9", `{"AccessKeyId": "{S}"}`,
}

// freeKeys are names of fields that are not secret themselves.
var freeKeys = []string{"message", "detail", "request_url", "user_agent", "path", "query", "msg", "error"}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// NewSecret returns a random credential-looking string (token characters,
// sometimes base64 padding), 16 to 48 characters.
func NewSecret(r *rand.Rand) string {
	n := 16 + r.IntN(33)
	b := make([]byte, n)
	for i := range b {
		b[i] = secretAlphabet[r.IntN(len(secretAlphabet))]
	}
	// Start with a letter so that no shape turns it into something else.
	b[0] = "QWERTYUIOPASDFGHJKLZXCVBNM"[r.IntN(26)]
	s := string(b)
	if r.IntN(4) == 0 {
		s += "=="
	}
	return s
}

// NewAccessKeyID returns a random AWS access key id (AKIA… or ASIA…).
func NewAccessKeyID(r *rand.Rand) string {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := []byte("AKIA")
	if r.IntN(2) == 0 {
		b = []byte("ASIA")
	}
	for range 16 {
		b = append(b, upper[r.IntN(len(upper))])
	}
	return string(b)
}

// NewSecretField returns a random field carrying a new secret: either a
// secret-named field (maybe nested, maybe a "Bearer" value) or a free-text
// field with the secret embedded in one of the usual shapes (sometimes an
// AWS access key id in text).
func NewSecretField(r *rand.Rand) SecretField {
	if r.IntN(10) == 0 {
		s := NewAccessKeyID(r)
		v := strings.ReplaceAll(akidText[r.IntN(len(akidText))], "{S}", s)
		return SecretField{Key: nestings[r.IntN(len(nestings))] + freeKeys[r.IntN(len(freeKeys))], Value: v, Secret: s}
	}
	s := NewSecret(r)
	if r.IntN(2) == 0 {
		v := s
		if r.IntN(3) == 0 {
			v = "Bearer " + s
		}
		return SecretField{Key: nestings[r.IntN(len(nestings))] + secretKeys[r.IntN(len(secretKeys))], Value: v, Secret: s}
	}
	v := strings.ReplaceAll(freeText[r.IntN(len(freeText))], "{S}", s)
	return SecretField{Key: nestings[r.IntN(len(nestings))] + freeKeys[r.IntN(len(freeKeys))], Value: v, Secret: s}
}
