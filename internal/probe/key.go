package probe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxKeyFile bounds the size of a key file.
const maxKeyFile = 4096

// ReadKeyFile reads an API key from a file, such as a mounted secret: its
// content without surrounding white space. The daemon calls it before every
// round, so a rotated key is used without a restart. The error never holds
// the content, and names the path only when the file exists: a path that
// does not may be the key itself, given where the path belongs.
func ReadKeyFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errors.New("api key file not found (the path given is not shown: it may be the key itself)")
	}
	if err != nil {
		return "", fmt.Errorf("api key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	switch k := strings.TrimSpace(string(b)); {
	case err != nil:
		return "", fmt.Errorf("api key file: %w", err)
	case len(b) > maxKeyFile:
		return "", fmt.Errorf("api key file %s: larger than %d bytes", path, maxKeyFile)
	case k == "":
		return "", fmt.Errorf("api key file %s: empty", path)
	case strings.ContainsAny(k, "\r\n"):
		return "", fmt.Errorf("api key file %s: more than one line", path)
	default:
		return Secret(k), nil
	}
}
