package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
)

// token is the cancel form's token of job id: a MAC of the ID under the
// handler's secret, so that only a page this handler served can hold it.
func token(secret []byte, id string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("cancel\x00" + id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// validToken reports whether got is job id's token, in constant time.
func validToken(secret []byte, id, got string) bool {
	return hmac.Equal([]byte(token(secret, id)), []byte(got))
}

// pathEscape is id as one segment of a URL path.
func pathEscape(id string) string { return url.PathEscape(id) }
