package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every flag of `glassbox serve` can also be set by an environment variable,
// as containers are configured: GLASSBOX_ and the flag's long name in upper
// case with '-' as '_' (--parallel is GLASSBOX_PARALLEL, --shutdown-grace
// GLASSBOX_SHUTDOWN_GRACE). A flag given on the command line wins over its
// variable; an empty variable counts as unset. Repeatable flags (-m,
// --vectors, --allowed-host, --cors-origin) take a comma-separated list.
//
// No flag is named so that its variable could collide with those
// Kubernetes injects for a Service named glassbox (GLASSBOX_PORT,
// GLASSBOX_SERVICE_HOST, GLASSBOX_PORT_8080_TCP…): there is no --port.

// envPrefix starts the name of every flag's environment variable.
const envPrefix = "GLASSBOX_"

// envName is the environment variable of a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envExempt are the flags that have no variable.
var envExempt = map[string]bool{"help": true}

// bindEnv adds its variable to the help of each of cmd's flags.
func bindEnv(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !envExempt[f.Name] {
			f.Usage += " [$" + envName(f.Name) + "]"
		}
	})
}

// envSetting is a flag that was set from its environment variable.
type envSetting struct {
	env, value string
	short      string // the flag's shorthand (-m), if any
	secret     bool   // not to be repeated in messages (the API key)
}

// applyEnv sets every flag of fs that the command line did not give from its
// environment variable, read with lookup. It returns the flags it set (by
// name), or an error naming the variable whose value the flag refuses.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) (map[string]envSetting, error) {
	set := map[string]envSetting{}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if envExempt[f.Name] || f.Changed {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok || v == "" {
			return
		}
		secret := strings.Contains(f.Name, "key")
		shown := fmt.Sprintf("%q", v)
		if secret {
			shown = "(hidden)"
		}
		values := []string{v}
		if f.Value.Type() == "stringArray" { // -m, --vectors: one value per comma-separated item
			values = strings.Split(v, ",")
		}
		for _, item := range values {
			item = strings.TrimSpace(item)
			if item == "" {
				errs = append(errs, fmt.Errorf("%s=%s: an empty item in the list: expected comma-separated values for --%s", name, shown, f.Name))
				return
			}
			if err := f.Value.Set(item); err != nil {
				errs = append(errs, fmt.Errorf("%s=%s: invalid value for --%s (%s): %v", name, shown, f.Name, f.Value.Type(), err))
				return
			}
		}
		f.Changed = true
		set[f.Name] = envSetting{env: name, value: v, short: f.Shorthand, secret: secret}
	})
	return set, errors.Join(errs...)
}

// fromEnv names, in an error about flags, the variables that set them: an
// error that mentions --parallel when GLASSBOX_PARALLEL gave it says so.
func fromEnv(err error, set map[string]envSetting) error {
	if err == nil || len(set) == 0 {
		return err
	}
	msg := err.Error()
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	var by []string
	for _, n := range names {
		s := set[n]
		if mentionsFlag(msg, "--"+n) || s.short != "" && mentionsFlag(msg, "-"+s.short) {
			if s.secret {
				by = append(by, s.env)
			} else {
				by = append(by, fmt.Sprintf("%s=%q", s.env, s.value))
			}
		}
	}
	if len(by) == 0 {
		return err
	}
	return fmt.Errorf("%w (set by the environment: %s)", err, strings.Join(by, ", "))
}

// mentionsFlag reports whether msg names flag (--name or -x) as a word of
// its own, not as a part of a longer flag.
func mentionsFlag(msg, flag string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], flag)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(flag)
		if (start == 0 || !isFlagChar(msg[start-1])) && (end == len(msg) || !isFlagChar(msg[end])) {
			return true
		}
		i = start + 1
	}
}

func isFlagChar(c byte) bool {
	return c == '-' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
