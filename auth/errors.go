package auth

import "errors"

var (
	// ErrUnknownRole is a role name that is none of Roles.
	ErrUnknownRole = errors.New("auth: unknown role")
	// ErrExists is a file WriteFiles would overwrite without Force.
	ErrExists = errors.New("auth: file exists")
)
