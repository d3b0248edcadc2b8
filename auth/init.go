package auth

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Names of what Init writes.
const (
	// DefaultAccount is the account Drover's users are put in: its
	// streams and subjects are its own, apart from any other account's.
	DefaultAccount = "DROVER"
	// AuthFile holds the account and its users, for a nats-server
	// configuration's include.
	AuthFile = "auth.conf"
	// BrokerFile is a complete configuration around AuthFile, for broker
	// --config or nats-server -c.
	BrokerFile = "broker.conf"
	// SeedSuffix ends the name of a user's seed file, <role>.nk, as nsc
	// names nkey files.
	SeedSuffix = ".nk"
)

// InitConfig says what Init writes.
type InitConfig struct {
	// Dir is the directory of the files; made, 0700, if missing. Required.
	Dir string
	// Account names the account (default DefaultAccount).
	Account string
	// Tenants, if any, are accounts in place of Account, one each, with
	// every user of Roles and Users in each and their seeds in
	// Dir/<tenant>/: tenants who share a broker and must not see or touch
	// each other's jobs, inputs, outputs or tasks, each running masters
	// and workers of its own.
	Tenants []string
	// Roles are the users to make, one per role and named after it
	// (default Roles()).
	Roles []Role
	// Users are more users, each with a name of its own: for example one
	// submitter per person or team, each of whom sees its own jobs alone.
	Users []UserSpec
	// Force overwrites files there are; without it, a file of Init's
	// already in Dir is an error wrapping ErrExists, and nothing is
	// written.
	Force bool
}

// UserSpec is a user for Init to make.
type UserSpec struct {
	Name string
	Role Role
}

// Init writes a deployment's credentials into cfg.Dir: AuthFile,
// BrokerFile, and a seed file per user (UserSeedFile), each readable by its
// owner alone (0600); with Tenants, each tenant's seeds in a directory of
// its own. It returns the paths it wrote, in that order.
func Init(cfg InitConfig) ([]string, error) {
	if cfg.Dir == "" {
		return nil, errors.New("auth: Dir is required")
	}
	if len(cfg.Roles) == 0 {
		cfg.Roles = Roles()
	}
	specs := make([]UserSpec, 0, len(cfg.Roles)+len(cfg.Users))
	for _, role := range cfg.Roles {
		specs = append(specs, UserSpec{Name: string(role), Role: role})
	}
	specs = append(specs, cfg.Users...)
	// Each account's seeds go in dirs[i] under Dir.
	accounts, dirs := []Account{{Name: cmp.Or(cfg.Account, DefaultAccount)}}, []string{""}
	if len(cfg.Tenants) > 0 {
		accounts, dirs = nil, nil
		for _, t := range cfg.Tenants {
			if slices.ContainsFunc(accounts, func(a Account) bool { return a.Name == t }) {
				return nil, fmt.Errorf("auth: tenant %s given twice", t)
			}
			accounts, dirs = append(accounts, Account{Name: t}), append(dirs, t)
		}
	}
	files := map[string][]byte{}
	names := []string{AuthFile, BrokerFile}
	for i := range accounts {
		for _, spec := range specs {
			if slices.ContainsFunc(accounts[i].Users, func(u User) bool { return u.Name == spec.Name }) {
				return nil, fmt.Errorf("auth: user %s given twice", spec.Name)
			}
			u, err := NewNamedUser(spec.Name, spec.Role)
			if err != nil {
				return nil, err
			}
			accounts[i].Users = append(accounts[i].Users, u)
			name := filepath.Join(dirs[i], UserSeedFile(u.Name))
			names = append(names, name)
			files[name] = seedFileContent(u)
		}
	}
	conf, err := ServerConfig(accounts...)
	if err != nil {
		return nil, err
	}
	files[AuthFile], files[BrokerFile] = conf, BrokerConfig()

	for _, dir := range dirs {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, dir), 0o700); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	if !cfg.Force {
		for _, name := range names {
			if _, err := os.Lstat(filepath.Join(cfg.Dir, name)); err == nil {
				return nil, fmt.Errorf("%w: %s", ErrExists, filepath.Join(cfg.Dir, name))
			}
		}
	}
	paths := make([]string, 0, len(names))
	for _, name := range names {
		path := filepath.Join(cfg.Dir, name)
		if err := writeFile(path, files[name], cfg.Force); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeFile writes data to path, 0600, through a temporary file put in
// place whole: a reader never sees half a file. With replace it is
// renamed over what is there (a link is replaced, never written through);
// without, it is linked there, which fails with ErrExists if path exists.
func writeFile(path string, data []byte, replace bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer os.Remove(tmp.Name()) // once renamed or linked, it has another name
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: %w", err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("auth: write %s: %w", path, err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return fmt.Errorf("auth: write %s: %w", path, err)
	}
	return nil
}
