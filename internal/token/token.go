// Package token checks names that stand as one token of a NATS subject or
// key: service, method and job names.
package token

// Valid reports whether s is non-empty and made of ASCII letters, digits,
// '-' and '_': never a wildcard, a separator or a space.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
