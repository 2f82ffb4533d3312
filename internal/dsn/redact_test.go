package dsn

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
		want string
		pw   string // must not survive; "" when there is none
	}{
		{
			name: "url",
			dsn:  "postgres://app:s3cret@db1:5432/acme?sslmode=require",
			want: "postgres://app:xxxxx@db1:5432/acme?sslmode=require",
			pw:   "s3cret",
		},
		{
			name: "postgresql scheme",
			dsn:  "postgresql://app:s3cret@db1/acme",
			want: "postgresql://app:xxxxx@db1/acme",
			pw:   "s3cret",
		},
		{
			name: "url without password",
			dsn:  "postgres://app@db1:5432/acme?sslmode=require",
			want: "postgres://app@db1:5432/acme?sslmode=require",
		},
		{
			name: "url with empty password",
			dsn:  "postgres://app:@db1/acme",
			want: "postgres://app:@db1/acme",
		},
		{
			name: "url without userinfo",
			dsn:  "postgres://db1:5432/acme",
			want: "postgres://db1:5432/acme",
		},
		{
			name: "url with password query parameter",
			dsn:  "postgres://app@db1/acme?sslmode=require&password=s3cret&application_name=orch",
			want: "postgres://app@db1/acme?sslmode=require&password=xxxxx&application_name=orch",
			pw:   "s3cret",
		},
		{
			name: "url with password in userinfo and query",
			dsn:  "postgres://app:s3cret@db1/acme?password=0ther",
			want: "postgres://app:xxxxx@db1/acme?password=xxxxx",
			pw:   "0ther",
		},
		{
			name: "url with sslpassword and an encoded key",
			dsn:  "postgres://app@db1/acme?sslpassword=k3y&pass%77ord=s3cret",
			want: "postgres://app@db1/acme?sslpassword=xxxxx&pass%77ord=xxxxx",
			pw:   "s3cret",
		},
		{
			name: "url with percent-encoded special characters",
			dsn:  "postgres://app:p%40ss%2Fw%3Ard%20%25%3F%23@db1:5432/acme",
			want: "postgres://app:xxxxx@db1:5432/acme",
			pw:   "p%40ss%2Fw%3Ard%20%25%3F%23",
		},
		{
			name: "url with an unencoded slash in the password",
			dsn:  "postgres://app:pa/ss@db1/acme",
			want: "postgres://app:xxxxx@db1/acme",
			pw:   "pa/ss",
		},
		{
			name: "url with an unencoded at sign in the password",
			dsn:  "postgres://app:p@ssw0rd@db1/acme",
			want: "postgres://app:xxxxx@db1/acme",
			pw:   "ssw0rd",
		},
		{
			name: "url with multiple hosts",
			dsn:  "postgres://app:s3cret@db1:5432,db2:5433/acme?target_session_attrs=read-write",
			want: "postgres://app:xxxxx@db1:5432,db2:5433/acme?target_session_attrs=read-write",
			pw:   "s3cret",
		},
		{
			name: "url with an at sign in a query value",
			dsn:  "postgres://db1:5432/acme?application_name=ops@example",
			want: "postgres://db1:5432/acme?application_name=ops@example",
		},
		{
			name: "url with an at sign in a query value and a password",
			dsn:  "postgres://app:s3cret@db1?application_name=ops@example",
			want: "postgres://app:xxxxx@db1?application_name=ops@example",
			pw:   "s3cret",
		},
		{
			name: "keyword/value unquoted",
			dsn:  "host=db1 port=5432 user=app password=s3cret dbname=acme",
			want: "host=db1 port=5432 user=app password=xxxxx dbname=acme",
			pw:   "s3cret",
		},
		{
			name: "keyword/value quoted",
			dsn:  "host=db1 password='se cret' dbname=acme",
			want: "host=db1 password=xxxxx dbname=acme",
			pw:   "se cret",
		},
		{
			name: "keyword/value quoted with escapes",
			dsn:  `host=db1 password='it\'s a \\ secret' dbname=acme`,
			want: "host=db1 password=xxxxx dbname=acme",
			pw:   `it\'s a \\ secret`,
		},
		{
			name: "keyword/value spaces around the equals sign",
			dsn:  "host=db1 password = s3cret dbname=acme",
			want: "host=db1 password = xxxxx dbname=acme",
			pw:   "s3cret",
		},
		{
			name: "keyword/value password last",
			dsn:  "host=db1 dbname=acme password=s3cret",
			want: "host=db1 dbname=acme password=xxxxx",
			pw:   "s3cret",
		},
		{
			name: "keyword/value sslpassword",
			dsn:  "host=db1 sslkey=/k sslpassword=k3yp4ss dbname=acme",
			want: "host=db1 sslkey=/k sslpassword=xxxxx dbname=acme",
			pw:   "k3yp4ss",
		},
		{
			name: "keyword/value unterminated quote",
			dsn:  "host=db1 password='s3cret dbname=acme",
			want: "host=db1 password=xxxxx",
			pw:   "s3cret",
		},
		{
			name: "keyword/value without password",
			dsn:  "host=db1 dbname=acme sslmode=disable",
			want: "host=db1 dbname=acme sslmode=disable",
		},
		{name: "empty", dsn: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.dsn)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			if tt.pw != "" && strings.Contains(got, tt.pw) {
				t.Errorf("Redact(%q) = %q still contains %q", tt.dsn, got, tt.pw)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
		msg  string
		want string
	}{
		{
			name: "whole dsn",
			dsn:  "postgres://app:s3cret@db1/acme",
			msg:  `failed to connect to postgres://app:s3cret@db1/acme: timeout`,
			want: `failed to connect to postgres://app:xxxxx@db1/acme: timeout`,
		},
		{
			name: "quoted dsn, as url.Parse errors quote it",
			dsn:  "postgres://app:s3\"cret@db1/acme",
			msg:  `parse "postgres://app:s3\"cret@db1/acme": invalid character`,
			want: `parse "postgres://app:xxxxx@db1/acme": invalid character`,
		},
		{
			name: "password alone",
			dsn:  "host=db1 password=s3cret",
			msg:  `password authentication failed (tried "s3cret")`,
			want: `password authentication failed (tried "xxxxx")`,
		},
		{
			name: "url-decoded password",
			dsn:  "postgres://app:p%40ss%2Fw0rd@db1/acme",
			msg:  "server said: bad password p@ss/w0rd",
			want: "server said: bad password xxxxx",
		},
		{
			name: "url-encoded password",
			dsn:  "host=db1 password='p@ss w0rd/x'",
			msg:  "dialing postgres://app:p%40ss%20w0rd%2Fx@db1 and p%40ss+w0rd%2Fx",
			want: "dialing postgres://app:xxxxx@db1 and xxxxx",
		},
		{
			name: "quoted password with escapes",
			dsn:  `host=db1 password='a\\b"c'`,
			msg:  `value "a\\b\"c" rejected; raw a\b"c`,
			want: `value "xxxxx" rejected; raw xxxxx`,
		},
		{
			name: "password in a query parameter",
			dsn:  "postgres://app@db1/acme?password=s3cret&sslmode=require",
			msg:  "cannot use s3cret",
			want: "cannot use xxxxx",
		},
		{
			name: "fragments of a password broken by a delimiter",
			dsn:  "postgres://app:abc/defgh ijkl@db1/acme",
			msg:  `unexpected spaces found in "defgh ijkl@db1/acme"`,
			want: `unexpected spaces found in "xxxxx xxxxx@db1/acme"`,
		},
		{
			name: "nothing secret",
			dsn:  "postgres://app:s3cret@db1/acme",
			msg:  "relation \"users\" does not exist",
			want: "relation \"users\" does not exist",
		},
		{
			name: "no password in the dsn",
			dsn:  "postgres://app@db1/acme",
			msg:  "cannot reach postgres://app@db1/acme",
			want: "cannot reach postgres://app@db1/acme",
		},
		{
			name: "no dsn",
			dsn:  "",
			msg:  "anything",
			want: "anything",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Scrub(tt.dsn, tt.msg); got != tt.want {
				t.Errorf("Scrub(%q) =\n %q\nwant\n %q", tt.msg, got, tt.want)
			}
		})
	}
}
