package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"gopkg.in/yaml.v3"
)

// AuthMode says whether viewers must log in.
type AuthMode string

// Auth modes.
const (
	AuthUsers AuthMode = "users" // every request but the page's files and /healthz needs a user or token
	AuthNone  AuthMode = "none"  // anyone who reaches the port may watch
)

// Auth configures who may watch. The zero value means: no authentication
// when http.listen is a loopback address, users required otherwise.
type Auth struct {
	// Mode is "users" or "none". Written as the scalar `auth: none` too.
	Mode AuthMode `yaml:"mode"`
	// Users log in on the page (cookie session) or send HTTP Basic.
	Users []User `yaml:"users"`
	// Tokens are for scripts: "Authorization: Bearer <token>" or
	// "?access_token=<token>".
	Tokens []Token `yaml:"tokens"`
	// SessionTTL is how long a page login lasts without activity; zero
	// means auth.DefaultSessionTTL.
	SessionTTL Duration `yaml:"session_ttl"`
}

// User is one login. PasswordHash is a bcrypt hash made by `edgecam passwd`.
type User struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"`
}

// Token is one API token, stored as the hex SHA-256 of the token (tokens
// are long and random, so a fast hash is enough; `edgecam passwd --token`
// makes both).
type Token struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
}

// UnmarshalYAML accepts `auth: none` as well as the mapping form. It checks
// the mapping's keys itself, because a custom unmarshaler loses the strict
// decoder's unknown-key check.
func (a *Auth) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!null" {
			return nil
		}
		a.Mode = AuthMode(n.Value)
		return nil
	}
	if n.Kind == yaml.MappingNode {
		var unknown []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			switch k.Value {
			case "mode", "users", "tokens", "session_ttl":
			default:
				unknown = append(unknown, fmt.Sprintf("line %d: field %s not found in type config.Auth", k.Line, k.Value))
			}
		}
		type plain Auth
		p := plain(*a)
		err := n.Decode(&p)
		*a = Auth(p)
		if len(unknown) > 0 {
			if te, ok := err.(*yaml.TypeError); ok {
				unknown = append(unknown, te.Errors...)
			}
			return &yaml.TypeError{Errors: unknown}
		}
		return err
	}
	return typeErrorf(n, "cannot unmarshal %s into config.Auth", n.ShortTag())
}

// EffectiveMode is the mode in force: Mode, or its default for listen.
func (a Auth) EffectiveMode(listen string) AuthMode {
	if a.Mode != "" {
		return a.Mode
	}
	if IsLoopback(listen) {
		return AuthNone
	}
	return AuthUsers
}

// IsLoopback reports whether a listen address only accepts local
// connections ("127.0.0.1:8080", "[::1]:8080", "localhost:8080").
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrNoUsers says a daemon reachable from the network would let nobody in.
type ErrNoUsers struct{ Listen string }

func (e *ErrNoUsers) Error() string {
	return fmt.Sprintf("auth: http.listen %s is reachable from the network, so viewers must log in, but no users are configured: "+
		"add users under auth (make a hash with `edgecam passwd`), or write `auth: none` to let anyone on the network watch", quote(e.Listen))
}

// CheckAccess reports a configuration that would start a daemon nobody can
// use: listening beyond loopback with authentication on and no users. It
// is separate from Validate so that partial files (tests, snippets) parse;
// `edgecam run` and `edgecam check` call it.
func (c *Config) CheckAccess() error {
	if c.Auth.EffectiveMode(c.HTTP.Listen) == AuthUsers && len(c.Auth.Users) == 0 && len(c.Auth.Tokens) == 0 {
		return &ErrNoUsers{Listen: c.HTTP.Listen}
	}
	return nil
}

func (c *Config) validateAuth(add func(key, format string, args ...any)) {
	a := c.Auth
	switch a.Mode {
	case "", AuthUsers, AuthNone:
	default:
		add("auth.mode", "%s is not one of users, none", quote(string(a.Mode)))
		return
	}
	if a.SessionTTL < 0 {
		add("auth.session_ttl", "%s must be greater than 0", a.SessionTTL)
	}
	seen := map[string]bool{}
	for i, u := range a.Users {
		p := fmt.Sprintf("auth.users[%d]", i)
		switch {
		case u.Name == "":
			add(p+".name", "missing")
		case strings.ContainsAny(u.Name, ":\r\n"):
			add(p+".name", "must not contain ':' or line breaks")
		case seen[u.Name]:
			add(p+".name", "duplicate %s", quote(u.Name))
		}
		seen[u.Name] = true
		if !strings.HasPrefix(u.PasswordHash, "$2") || len(u.PasswordHash) != 60 {
			add(p+".password_hash", "is not a bcrypt hash; make one with `edgecam passwd`")
		}
	}
	for i, t := range a.Tokens {
		p := fmt.Sprintf("auth.tokens[%d]", i)
		if t.Name == "" {
			add(p+".name", "missing")
		}
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
			add(p+".sha256", "is not a hex SHA-256; make a token with `edgecam passwd --token`")
		}
	}
}
